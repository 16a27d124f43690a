import TallyBase
import TallyCore
import TallyHTTP

/// JSON members that a poll's definition alone decides (its question, option titles, author),
/// written once per definition on a loop and copied into every later answer: a dialect whose
/// upstream answers a vote with the whole poll spends most of that answer on them. One per dialect
/// and loop (the loop's thread only: no lock). A changed definition is a new `Poll`, so an entry
/// is good while it holds the same object. Bounded: past `limit` polls it starts over.
public final class DefinitionFragments {
    private var entries: [PollID: (poll: Poll, bytes: [UInt8])] = [:]
    private let scratch = ByteBuffer(capacity: 1024)
    static let limit = 4096

    public init() {}

    /// Writes the members `build` writes for `poll` into `json`'s current object, copied from the
    /// cache once this definition's are there (building them allocates once per definition).
    public func members(of poll: Poll, into json: inout JSONWriter, _ build: (inout JSONWriter) -> Void) {
        if let entry = entries[poll.id], entry.poll === poll {
            return entry.bytes.withUnsafeBytes { json.members(raw: $0) }
        }
        scratch.removeAll()
        var fresh = JSONWriter(scratch)
        fresh.object(build)
        let members = Array(UnsafeRawBufferPointer(rebasing: scratch.bytes.dropFirst().dropLast()))
        if entries.count >= DefinitionFragments.limit { entries.removeAll(keepingCapacity: true) }
        entries[poll.id] = (poll, members)
        members.withUnsafeBytes { json.members(raw: $0) }
    }
}
