/// Which version of a poll an organizer's change was based on: the revision Redis numbers every
/// organizer write with, and the lifecycle state (the close worker moves it without a revision).
/// Redis saves a change only if the poll is still at this version, so a change made on a stale
/// view (another organizer's edit, another daemon's close at the end date) is refused, never
/// silently undone. Written as the HTTP entity tag `"<revision>-<state>"`.
public struct PollVersion: Equatable, Sendable {
    public var revision: Int64
    public var state: Lifecycle

    public init(revision: Int64, state: Lifecycle) {
        self.revision = revision
        self.state = state
    }

    /// `"3-open"`, quotes included.
    public var entityTag: String { "\"\(revision)-\(state.name)\"" }

    /// The version an `If-Match` value names (one entity tag, as `entityTag` writes it); nil for
    /// anything else.
    public init?(entityTag text: Substring) {
        guard text.count >= 5, text.first == "\"", text.last == "\"" else { return nil }
        let inside = text.dropFirst().dropLast()
        guard let dash = inside.firstIndex(of: "-"), let revision = Int64(inside[..<dash]), revision >= 0,
            let state = Lifecycle(name: String(inside[inside.index(after: dash)...]))
        else { return nil }
        self.init(revision: revision, state: state)
    }
}
