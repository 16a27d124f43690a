import TallyCore
import TallyHTTP

extension Poll {
    /// Whether label `name` is exactly `bytes` (a Talk room from the path, a Canvas poll id), read
    /// without allocating: the dialects check it on the vote path.
    func label(_ name: String, is bytes: UnsafeRawBufferPointer) -> Bool {
        guard var value = definition.labels[name] else { return false }
        return value.withUTF8 { ASCII.equals(UnsafeRawBufferPointer($0), bytes) }
    }
}
