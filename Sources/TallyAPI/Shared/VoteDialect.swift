import TallyCore
import TallyHTTP
import TallyStore

/// What a dialect brings to the vote desk (`VoteDesk.vote`): how it reads a vote request and how
/// it answers. One value per loop (its stats and its store responder are that loop's). Generic, so
/// the desk's calls into it are direct: no existential on the vote path.
public protocol VoteDialect {
    associatedtype Style: AnswerStyle
    var style: Style { get }
    /// This loop's vote outcomes for the dialect.
    var stats: VoteStats { get }
    /// How this loop answers the dialect's stored votes (`LoopDesks.addAnswer`).
    var answerID: UInt16 { get }

    /// The ballot the request asks for, in engine numbering (0-based options), and the poll token
    /// if it carries one; nil after answering why not (a malformed body, a refusal the dialect
    /// judges itself). Must not allocate.
    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote?
}

/// A vote as a dialect read it.
public struct DecodedVote {
    public var input: BallotInput
    public var token: PollToken?

    public init(input: BallotInput, token: PollToken? = nil) {
        self.input = input
        self.token = token
    }
}
