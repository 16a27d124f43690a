#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The real-time clock in engine units. A vDSO call, no allocation: fine on the vote path.
public enum WallClock {
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(spec.tv_sec) * 1_000_000 + Timestamp(spec.tv_nsec / 1_000)
    }
}
