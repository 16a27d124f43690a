import TallyCore
import TallyHTTP

extension AccessPolicy {
    /// Who calls: an organizer, a voter (with their identity), or, unless `required`, nobody; nil
    /// after answering a bad credential (or, when `required`, a missing one) in `style`.
    func caller<Style: AnswerStyle>(_ request: Request, _ response: ResponseWriter, _ style: Style, required: Bool) -> (Viewer, VoterIdentity?)? {
        if isOrganizer(request) { return (.organizer, nil) }
        let check = voter(request, now: WallClock.now() / 1_000_000)
        switch check {
        case .voter(let identity): return (Viewer(voter: identity.key), identity)
        case .missing where !required: return (.anonymous, nil)
        default:
            style.write(check, response)
            return nil
        }
    }
}
