/// What a poll is: everything an organizer sets. Immutable once published; an update publishes a
/// new definition (see `PollRegistry`).
public struct PollDefinition: Sendable, Equatable {
    public var question: String
    public var description: String
    /// Option titles; a ballot names them by 0-based index.
    public var options: [String]
    public var rules: PollRules
    /// Container labels for listing: a Talk conversation, a Canvas course and section, a Jira
    /// workspace and issue. The engine only matches them.
    public var labels: [String: String]
    /// The voter id of the poll's author, who sees what organizers see.
    public var organizer: String?
    public var createdAt: Timestamp
    /// Expected voters: sizes the ledger's first table (it grows past this as needed; 0: starts
    /// small, for the many polls few vote in).
    public var expectedVoters: Int
    /// Shards in Redis (`PollShards`), fixed when the poll is created; 0: the daemon's default
    /// (`[redis] shards`), set before the first save.
    public var shards: Int

    public init(
        question: String, description: String = "", options: [String], rules: PollRules = PollRules(),
        labels: [String: String] = [:], organizer: String? = nil, createdAt: Timestamp = 0,
        expectedVoters: Int = 0, shards: Int = 0
    ) {
        self.question = question
        self.description = description
        self.options = options
        self.rules = rules
        self.labels = labels
        self.organizer = organizer
        self.createdAt = createdAt
        self.expectedVoters = expectedVoters
        self.shards = shards
    }

    /// The structural checks every dialect shares; dialects add their own stricter limits.
    public func validate() throws(PollAdminError) {
        guard !options.isEmpty else { throw .invalidDefinition("a poll needs at least one option") }
        guard options.count <= Ballot.maxOptions else {
            throw .invalidDefinition("a poll has at most \(Ballot.maxOptions) options")
        }
        guard rules.maxVotes >= 0 && rules.maxVotes <= options.count else {
            throw .invalidDefinition("maxVotes must be between 0 (no limit) and the number of options")
        }
        guard expectedVoters >= 0 && expectedVoters <= PollDefinition.maxExpectedVoters else {
            throw .invalidDefinition("expectedVoters must be from 0 to \(PollDefinition.maxExpectedVoters) (the ledger grows past it)")
        }
        guard shards >= 0 && shards <= PollShards.maxCount else {
            throw .invalidDefinition("shards must be from 1 to \(PollShards.maxCount)")
        }
    }

    /// A sizing hint, so it is bounded: the first ledger table of a 10 M hint is 16 M slots (384 MiB
    /// of address space, touched only as voters arrive).
    public static let maxExpectedVoters = 10_000_000

    /// The most options one ballot may name.
    public var ballotLimit: Int { rules.maxVotes == 0 ? options.count : rules.maxVotes }
}

/// Why an organizer's call was refused.
public enum PollAdminError: Error, Equatable, Sendable {
    case unknownPoll
    case invalidDefinition(String)
    /// The call does not apply in the poll's current state (e.g. closing a closed poll).
    case invalidTransition(from: Lifecycle, action: String)
}
