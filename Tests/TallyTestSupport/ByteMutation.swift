/// Small random edits that make valid input almost valid, for fuzz tests: a byte changed, inserted
/// or removed, or the input cut short. Half the new bytes come from `interesting` (the bytes that
/// matter to the parser under test), half are any byte.
public enum ByteMutation {
    public static func apply(
        _ edits: ClosedRange<Int> = 1...4, to bytes: inout [UInt8], favouring interesting: [UInt8], _ random: inout SplitMix64
    ) {
        for _ in 0..<Int.random(in: edits, using: &random) {
            let byte = Bool.random(using: &random) ? interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0 where !bytes.isEmpty: bytes[index] = byte
            case 1: bytes.insert(byte, at: index)
            case 2 where !bytes.isEmpty: bytes.remove(at: index)
            default: bytes = Array(bytes.prefix(index))
            }
        }
    }
}
