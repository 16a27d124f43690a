/// Which polls a listing wants: a lifecycle, labels with given values, labels present whatever
/// their value, an organizer. Empty parts match every poll.
public struct PollQuery: Sendable {
    public var lifecycle: Lifecycle?
    public var labels: [String: String]
    public var labelNames: [String]
    public var organizer: String?

    public init(lifecycle: Lifecycle? = nil, labels: [String: String] = [:], labelNames: [String] = [], organizer: String? = nil) {
        self.lifecycle = lifecycle
        self.labels = labels
        self.labelNames = labelNames
        self.organizer = organizer
    }

    public func matches(_ poll: Poll) -> Bool {
        let definition = poll.definition
        return (lifecycle == nil || poll.lifecycle == lifecycle)
            && labels.allSatisfy { definition.labels[$0.key] == $0.value }
            && labelNames.allSatisfy { definition.labels[$0] != nil }
            && (organizer == nil || definition.organizer == organizer)
    }

    /// Whether a poll let go of (closed) with `signature` may match.
    func mayMatchDropped(_ signature: LabelSignature) -> Bool {
        (lifecycle == nil || lifecycle == .closed) && signature.mayContain(self.signature)
    }

    var signature: LabelSignature { LabelSignature(labels: labels, labelNames: labelNames, organizer: organizer) }
}
