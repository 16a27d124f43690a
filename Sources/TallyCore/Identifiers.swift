/// A poll's id: 64 bits, unique across every daemon that shares one Redis.
public typealias PollID = UInt64

/// Microseconds since the Unix epoch. Engine calls take `now` from their caller, so every rule is a
/// pure function of its inputs and the tests control time.
public typealias Timestamp = Int64
