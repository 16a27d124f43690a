/// Who may see a poll's results, and when.
public enum Visibility: String, Sendable, CaseIterable, Codable {
    /// Everyone, at any time.
    case always
    /// A voter once they have a ballot; everyone once the poll is closed or its end date passed.
    case afterVote
    /// Everyone once the poll is closed or its end date passed (hidden until then, e.g. Mastodon's
    /// `hide_totals`).
    case afterClose
    /// Organizers only, always.
    case organizerOnly
}

/// The rules a poll's votes are checked against: the union of what the five dialects need.
public struct PollRules: Sendable, Equatable {
    /// 1 = single choice; n = up to n options; 0 = up to every option.
    public var maxVotes: Int
    /// The end date, if any.
    public var closesAt: Timestamp?
    /// Whether reaching `closesAt` closes the poll (content polls can show an end date that does not).
    public var closesOnEnd: Bool
    /// A voter may replace their ballot, or clear it with an empty one, until the poll closes.
    public var revote: Bool
    public var visibility: Visibility
    /// Non-organizers see percentages only, never absolute numbers.
    public var hideCounts: Bool
    /// Ballots are not attributable: nobody may list who voted what.
    public var anonymous: Bool
    /// When set, the poll is private: this token is required to see it or vote.
    public var token: PollToken?

    public init(
        maxVotes: Int = 1, closesAt: Timestamp? = nil, closesOnEnd: Bool = true, revote: Bool = false,
        visibility: Visibility = .always, hideCounts: Bool = false, anonymous: Bool = true,
        token: PollToken? = nil
    ) {
        self.maxVotes = maxVotes
        self.closesAt = closesAt
        self.closesOnEnd = closesOnEnd
        self.revote = revote
        self.visibility = visibility
        self.hideCounts = hideCounts
        self.anonymous = anonymous
        self.token = token
    }

    /// The end date that ends voting, if any.
    public var deadline: Timestamp? { closesOnEnd ? closesAt : nil }
}
