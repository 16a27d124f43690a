import Synchronization

/// A reference made the first time it is needed, by whichever of racing threads gets there first
/// (the others drop theirs), then read with one atomic load and no reference counting. A poll
/// keeps its counters and the store's tallies this way, so one nobody votes in or reads costs no
/// memory for them.
struct OnFirstUse<Object: AnyObject>: ~Copyable {
    /// The object's address, retained; 0 until it is made.
    private let address = Atomic<UInt>(0)

    init() {}

    deinit {
        if let pointer = UnsafeRawPointer(bitPattern: address.load(ordering: .acquiring)) { Unmanaged<Object>.fromOpaque(pointer).release() }
    }

    /// The object, unretained (it lives as long as this), or nil if not made yet.
    @inline(__always)
    func existing() -> Unmanaged<Object>? {
        UnsafeRawPointer(bitPattern: address.load(ordering: .acquiring)).map { Unmanaged.fromOpaque($0) }
    }

    /// The object, made by `make` if there is none yet.
    @inline(__always)
    func get(_ make: () -> Object) -> Unmanaged<Object> {
        if let object = existing() { return object }
        let made = Unmanaged.passRetained(make())
        let (exchanged, found) = address.compareExchange(expected: 0, desired: UInt(bitPattern: made.toOpaque()), ordering: .acquiringAndReleasing)
        if exchanged { return made }
        made.release()
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: found)!)
    }
}
