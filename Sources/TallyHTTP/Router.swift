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

/// Method + path patterns (`/v1/polls/{id}/votes`) to handlers, in route groups: each group has a
/// path prefix (a dialect's mount, e.g. `/mastodon`) and answers errors under it in its own shape.
/// One router per loop, so handlers can capture that loop's state without sharing.
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

    private struct Group {
        let prefix: [[UInt8]]
        let errors: ErrorResponder
        var routes: [Route] = []
    }

    /// Group 0 is the root (prefix none); it answers paths no other group's prefix matches.
    private var groups: [Group]

    /// - Parameter errors: how paths outside every group's prefix are answered when something
    ///   goes wrong (404, 405, protocol errors).
    public init(errors: @escaping ErrorResponder = HTTPError.writeNative) {
        groups = [Group(prefix: [], errors: errors)]
    }

    /// A route group under `prefix` (e.g. `/mastodon`; repeated slashes collapse), whose 404, 405
    /// and protocol errors `errors` answers.
    public func group(_ prefix: String, errors: @escaping ErrorResponder) -> RouteGroup {
        let segments = prefix.split(separator: "/").map { Array($0.utf8) }
        precondition(!groups.contains { $0.prefix == segments }, "two route groups under \(prefix)")
        groups.append(Group(prefix: segments, errors: errors))
        return RouteGroup(router: self, index: groups.count - 1)
    }

    /// Adds a route to the root group; `{anything}` in the pattern matches one path segment.
    public func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        add(method, pattern, handler, group: 0)
    }

    fileprivate func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler, group: Int) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter : .literal(Array(part.utf8))
        }
        precondition(segments.count(where: { if case .parameter = $0 { true } else { false } }) <= 4)
        groups[group].routes.append(Route(method: method, segments: segments, handler: handler))
    }

    /// Dispatches to the matching route of the group the path belongs to; 404 when no route has
    /// this path, 405 when one has it but not for this method, each in the group's shape.
    func dispatch(_ request: Request, _ response: ResponseWriter) {
        let (index, rest) = group(of: request.path)
        let group = groups[index]
        var pathMatched = false
        for route in group.routes {
            guard let parameters = match(route.segments, rest) else { continue }
            pathMatched = true
            if route.method == request.method || (route.method == .get && request.method == .head) {
                route.handler(request, parameters, response)
                return
            }
        }
        group.errors(pathMatched ? .methodNotAllowed(allow: allowedMethods(group, rest)) : .notFound, response)
    }

    /// Who answers an error for a request whose path (as far as it arrived) is `path`.
    func errors(for path: UnsafeRawBufferPointer) -> ErrorResponder { groups[group(of: path).index].errors }

    /// The group with the longest prefix that `path` starts with, and the path after that prefix.
    private func group(of path: UnsafeRawBufferPointer) -> (index: Int, rest: UnsafeRawBufferPointer) {
        var best = (index: 0, rest: path, length: 0)
        for index in groups.indices.dropFirst() where groups[index].prefix.count > best.length {
            var parts = PathSegments(remaining: path)
            guard groups[index].prefix.allSatisfy({ literal in parts.next().map { part in literal.withUnsafeBytes { ASCII.equals(part, $0) } } == true })
            else { continue }
            best = (index, parts.remaining, groups[index].prefix.count)
        }
        return (best.index, best.rest)
    }

    /// `GET, HEAD, POST`-style list of the methods `path` takes (for 405's Allow header).
    private func allowedMethods(_ group: Group, _ path: UnsafeRawBufferPointer) -> String {
        var names: [String] = []
        for route in group.routes where match(route.segments, path) != nil {
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
                guard text.withUnsafeBytes({ ASCII.equals(part, $0) }) else { return nil }
            case .parameter:
                _ = parameters.append(part)
            }
        }
        return parts.next() == nil ? parameters : nil
    }
}

/// The routes of one mount (see `Router.group`).
public struct RouteGroup {
    fileprivate let router: Router
    fileprivate let index: Int

    /// Adds a route under the group's prefix; `{anything}` matches one path segment.
    public func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        router.add(method, pattern, handler, group: index)
    }
}
