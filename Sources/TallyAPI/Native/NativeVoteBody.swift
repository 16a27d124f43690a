import TallyCore

/// The body of a native vote, `{"choices":[0,2]}` (0-based options) with an optional `"token"`,
/// read without allocating. Other keys are skipped; `choices` or `token` given twice is malformed
/// (parsers disagree on which one counts).
struct NativeVoteBody {
    let input: BallotInput
    let token: PollToken?

    /// nil unless `bytes` are one JSON object with one `choices`, an array of integers, and at most
    /// one `token`, a string.
    init?(parsing bytes: UnsafeRawBufferPointer) {
        var input = BallotInput()
        var token: PollToken?
        var sawChoices = false
        var scanner = JSONScanner(bytes)
        let wellFormed = scanner.readObject { key, value in
            if JSONScanner.keyIs(key, "choices") {
                guard !sawChoices else { return false }
                sawChoices = true
                return value.readIntegerArray { choice in
                    input.add(Int(clamping: choice))
                    return true
                }
            }
            if JSONScanner.keyIs(key, "token") {
                guard token == nil, let text = value.readStringBytes() else { return false }
                token = PollToken(parsing: text)
                return true
            }
            return value.skipValue()
        }
        guard wellFormed && sawChoices else { return nil }
        self.input = input
        self.token = token
    }
}
