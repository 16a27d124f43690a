/// Handles one request by writing exactly one response.
public typealias RouteHandler = (Request, PathParameters, ResponseWriter) -> Void

/// Up to four `{name}` segments a route captured, in order.
public struct PathParameters {
    var values: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) =
        (.init(start: nil, count: 0), .init(start: nil, count: 0), .init(start: nil, count: 0), .init(start: nil, count: 0))
    public private(set) var count = 0

    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index < count)
        switch index {
        case 0: return values.0
        case 1: return values.1
        case 2: return values.2
        default: return values.3
        }
    }

    mutating func append(_ value: UnsafeRawBufferPointer) -> Bool {
        switch count {
        case 0: values.0 = value
        case 1: values.1 = value
        case 2: values.2 = value
        case 3: values.3 = value
        default: return false
        }
        count += 1
        return true
    }
}

/// Method + path patterns (`/v1/polls/{id}/votes`) to handlers. One router per loop, so handlers
/// can capture that loop's state without sharing.
public final class Router {
    private enum Segment {
        case literal([UInt8])
        case parameter
    }

    private struct Route {
        let method: HTTPMethod
        let segments: [Segment]
        let handler: RouteHandler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route; `{anything}` in the pattern matches one path segment.
    public func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter : .literal(Array(part.utf8))
        }
        precondition(segments.count(where: { if case .parameter = $0 { true } else { false } }) <= 4)
        routes.append(Route(method: method, segments: segments, handler: handler))
    }

    /// Dispatches to the matching route; 404 when no route has this path, 405 when one has it but
    /// not for this method.
    func dispatch(_ request: Request, _ response: ResponseWriter) {
        var pathMatched = false
        for route in routes {
            guard let parameters = match(route.segments, request.path) else { continue }
            pathMatched = true
            if route.method == request.method || (route.method == .get && request.method == .head) {
                route.handler(request, parameters, response)
                return
            }
        }
        if pathMatched {
            response.writeMethodNotAllowed(allow: allowedMethods(request.path))
        } else {
            response.writeError(status: 404, code: "not_found", message: "no such resource")
        }
    }

    /// `GET, HEAD, POST`-style list of the methods `path` takes (for 405's Allow header).
    private func allowedMethods(_ path: UnsafeRawBufferPointer) -> String {
        var names: [String] = []
        for route in routes where match(route.segments, path) != nil {
            names.append(route.method.name)
            if route.method == .get { names.append(HTTPMethod.head.name) }
        }
        return names.joined(separator: ", ")
    }

    private func match(_ segments: [Segment], _ path: UnsafeRawBufferPointer) -> PathParameters? {
        var parameters = PathParameters()
        var parts = PathSegments(remaining: path)
        for segment in segments {
            guard let part = parts.next() else { return nil }
            switch segment {
            case .literal(let text):
                guard part.elementsEqual(text) else { return nil }
            case .parameter:
                _ = parameters.append(part)
            }
        }
        return parts.next() == nil ? parameters : nil
    }
}
