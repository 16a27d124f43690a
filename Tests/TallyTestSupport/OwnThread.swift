import Foundation

extension DispatchGroup {
    /// Runs `body` on a thread of its own, as part of this group: Dispatch's shared pool may have
    /// no thread free while parallel tests block theirs, and work that must run *during* a test's
    /// next steps (votes while a slot moves) cannot wait for one.
    public func runOnOwnThread(_ body: @escaping @Sendable () -> Void) {
        enter()
        Thread {
            body()
            self.leave()
        }.start()
    }
}
