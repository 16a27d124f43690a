/// How many votes per second a run asks for at each moment: the arrival rate of an open-loop load,
/// whatever the server's answers (so slow answers show up as latency, not as fewer requests).
enum ArrivalProfile: Equatable, CustomStringConvertible {
    /// `rate` votes/s throughout.
    case steady(rate: Double)
    /// From `from` to `to` votes/s, linearly over the whole run.
    case ramp(from: Double, to: Double)
    /// From 0 to `peak` votes/s within `rise` seconds ("vote now!"), then `peak`.
    case burst(peak: Double, rise: Double)

    /// Parses `steady:20000`, `ramp:1000:50000`, `burst:200000:2`.
    init?(_ text: String) {
        let parts = text.split(separator: ":").map(String.init)
        let numbers = parts.dropFirst().compactMap(Double.init)
        guard numbers.count == parts.count - 1, numbers.allSatisfy({ $0 >= 0 }) else { return nil }
        switch (parts.first, numbers.count) {
        case ("steady", 1): self = .steady(rate: numbers[0])
        case ("ramp", 2): self = .ramp(from: numbers[0], to: numbers[1])
        case ("burst", 2) where numbers[1] > 0: self = .burst(peak: numbers[0], rise: numbers[1])
        default: return nil
        }
    }

    /// The same shape at `factor` times the rate (one generator thread's share).
    func scaled(by factor: Double) -> ArrivalProfile {
        switch self {
        case .steady(let rate): .steady(rate: rate * factor)
        case .ramp(let from, let to): .ramp(from: from * factor, to: to * factor)
        case .burst(let peak, let rise): .burst(peak: peak * factor, rise: rise)
        }
    }

    /// As written on the command line.
    var description: String {
        func number(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
        switch self {
        case .steady(let rate): return "steady:\(number(rate))"
        case .ramp(let from, let to): return "ramp:\(number(from)):\(number(to))"
        case .burst(let peak, let rise): return "burst:\(number(peak)):\(number(rise))"
        }
    }

    /// Votes that should have been sent by `elapsed` seconds into a run of `duration` seconds
    /// (the integral of the rate).
    func arrivals(by elapsed: Double, of duration: Double) -> Double {
        let t = min(max(elapsed, 0), duration)
        switch self {
        case .steady(let rate):
            return rate * t
        case .ramp(let from, let to):
            return from * t + (to - from) * t * t / (2 * duration)
        case .burst(let peak, let rise):
            if t <= rise { return peak * t * t / (2 * rise) }
            return peak * rise / 2 + peak * (t - rise)
        }
    }
}
