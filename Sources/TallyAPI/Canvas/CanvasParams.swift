import Foundation
import TallyHTTP

/// The fields of one object in a Canvas request, as Rails reads them from the query, a form body
/// (`polls[][question]=…`, the way canvasapi sends them) or a JSON body (`{"polls":[{…}]}`), under
/// the plural or the singular name: canvasapi sends `poll_choice[]` and `poll_session[]` where
/// Canvas documents `poll_choices[]` and `poll_sessions[]`, and both are in use. Admin path.
struct CanvasParams {
    private var fields: [String: String] = [:]

    init(_ request: Request, plural: String, singular: String) {
        let names = [plural, singular]
        for source in [request.query, request.body] {
            _ = FormBody.forEach(source) { name, value in
                guard let name = FormBody.text(name), let value = FormBody.text(value) else { return true }
                for object in names {
                    for opening in ["\(object)[][", "\(object)["] where name.hasPrefix(opening) && name.hasSuffix("]") {
                        fields[String(name.dropFirst(opening.count).dropLast())] = value
                    }
                }
                return true
            }
        }
        if let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] {
            for name in names {
                let item = (object[name] as? [[String: Any]])?.first ?? object[name] as? [String: Any]
                for (key, value) in item ?? [:] { fields[key] = "\(value)" }
            }
        }
    }

    subscript(_ field: String) -> String? { fields[field] }

    /// Rails' boolean: "true", "1", "on" and "yes" are true (canvasapi sends "true"/"false").
    func flag(_ field: String) -> Bool? {
        fields[field].map { ["true", "1", "on", "yes"].contains($0.lowercased()) }
    }

    func integer(_ field: String) -> Int64? { fields[field].flatMap { Int64($0) } }
}
