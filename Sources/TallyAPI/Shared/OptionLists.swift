import TallyCore
import TallyHTTP

/// A ballot's option numbers as dialects' vote bodies carry them, read without allocating: a JSON
/// array under one key (numbers, or strings of digits: Rails' `Integer(x)` and PHP's `is_numeric`
/// take both) or a form's repeated `name[]`. The numbers are added to `input` as they are
/// (0-based); `named` says the key or name was there. False on an element that is not a number.
enum OptionLists {
    static func readJSON(_ bytes: UnsafeRawBufferPointer, key: StaticString, _ input: inout BallotInput, _ named: inout Bool) -> Bool {
        var scanner = JSONScanner(bytes)
        return scanner.readObject { found, value in
            guard JSONScanner.keyIs(found, key) else { return value.skipValue() }
            return value.readArray { element in
                let option: Int64?
                if element.nextIsString() {
                    option = element.readStringBytes().flatMap { ASCII.parseUInt64($0) }.map { Int64(clamping: $0) }
                } else {
                    option = element.readInteger()
                }
                guard let option else { return false }
                input.add(Int(clamping: option))
                named = true
                return true
            }
        }
    }

    static func readForm(_ bytes: UnsafeRawBufferPointer, name: StaticString, _ input: inout BallotInput, _ named: inout Bool) -> Bool {
        FormBody.forEach(bytes) { found, value in
            guard FormBody.nameIs(found, name) else { return true }
            guard let option = FormBody.integer(value) else { return false }
            input.add(Int(clamping: option))
            named = true
            return true
        }
    }
}
