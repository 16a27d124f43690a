/// Whom a stored vote's answer goes to: opaque to the store, which only carries it through the
/// batch (no allocation) and hands it back with the verdict (`LoopStore.onStored`). The API makes
/// and reads it.
public struct VoteTicket {
    public let pointer: UnsafeMutableRawPointer
    public let tag: UInt32

    public init(pointer: UnsafeMutableRawPointer, tag: UInt32) {
        self.pointer = pointer
        self.tag = tag
    }
}
