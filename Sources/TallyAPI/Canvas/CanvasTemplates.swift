import TallyCore
import TallyStore

/// A Canvas poll: a question template whose sessions are Tally polls.
struct CanvasTemplate {
    var id: Int64
    var question: String
    var description: String
    var createdAt: Timestamp
    /// In order of position, then id.
    var choices: [CanvasChoice]
}

struct CanvasChoice {
    var id: Int64
    var text: String
    var isCorrect: Bool
    var position: Int
}

/// Canvas' templates and choices, kept in Redis (`KeySchema.canvasPolls` …) so that every daemon
/// sees the same: read from Redis on every call. Admin path. Redis answers one connection's
/// commands in order, so a call's several commands are sent together and read in the last reply.
struct CanvasTemplates {
    let store: LoopStore

    /// A new id for a template or a choice; nil if Redis cannot be asked.
    func newID(_ done: @escaping (Int64?) -> Void) {
        store.call(["INCR", KeySchema.canvasNextID]) { done($0?.integer) }
    }

    /// The template, nil if there is none; `.failure` if Redis cannot be asked.
    func load(_ id: Int64, _ done: @escaping (Result<CanvasTemplate?, Unavailable>) -> Void) {
        var fields: RedisFields?
        store.call(["HGETALL", KeySchema.canvasPoll(id)]) { reply in fields = reply.map(RedisFields.init) }
        store.call(["HGETALL", KeySchema.canvasChoices(id)]) { reply in
            guard let fields, let reply, !reply.isError else { return done(.failure(Unavailable())) }
            guard let question = fields["question"] else { return done(.success(nil)) }
            let choices = RedisFields(reply).pairs.compactMap { key, value -> CanvasChoice? in
                let parts = value.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                guard let id = Int64(key), parts.count == 3, let position = Int(parts[0]) else { return nil }
                return CanvasChoice(id: id, text: String(parts[2]), isCorrect: parts[1] == "1", position: position)
            }
            done(.success(CanvasTemplate(
                id: id, question: question, description: fields["description"] ?? "", createdAt: Timestamp(fields["created_at"] ?? "") ?? 0,
                choices: choices.sorted { ($0.position, $0.id) < ($1.position, $1.id) })))
        }
    }

    /// Every template, by id; nil if Redis cannot be asked.
    func loadAll(_ done: @escaping ([CanvasTemplate]?) -> Void) {
        store.call(["SMEMBERS", KeySchema.canvasPolls]) { reply in
            guard let reply, reply.isArray else { return done(nil) }
            let ids = (0..<reply.count).compactMap { reply[$0].string.flatMap { Int64($0) } }.sorted()
            loadEach(ids[...], [], done)
        }
    }

    private func loadEach(_ ids: ArraySlice<Int64>, _ loaded: [CanvasTemplate], _ done: @escaping ([CanvasTemplate]?) -> Void) {
        guard let id = ids.first else { return done(loaded) }
        load(id) { result in
            guard case .success(let template) = result else { return done(nil) }
            loadEach(ids.dropFirst(), loaded + (template.map { [$0] } ?? []), done)
        }
    }

    /// Writes a template's own fields; true once Redis has them.
    func save(_ template: CanvasTemplate, _ done: @escaping (Bool) -> Void) {
        store.call(["HSET", KeySchema.canvasPoll(template.id), "question", template.question, "description", template.description,
            "created_at", String(template.createdAt)]) { _ in }
        store.call(["SADD", KeySchema.canvasPolls, String(template.id)]) { reply in done(reply.map { !$0.isError } ?? false) }
    }

    func save(_ choice: CanvasChoice, of template: Int64, _ done: @escaping (Bool) -> Void) {
        let value = "\(choice.position)\t\(choice.isCorrect ? 1 : 0)\t\(choice.text)"
        store.call(["HSET", KeySchema.canvasChoices(template), String(choice.id), value]) { reply in done(reply.map { !$0.isError } ?? false) }
    }

    func delete(choice: Int64, of template: Int64, _ done: @escaping (Bool) -> Void) {
        store.call(["HDEL", KeySchema.canvasChoices(template), String(choice)]) { reply in done(reply.map { !$0.isError } ?? false) }
    }

    func delete(_ template: Int64, _ done: @escaping (Bool) -> Void) {
        // One key per command: on a Redis Cluster the two may live on different nodes.
        store.call(["DEL", KeySchema.canvasPoll(template)]) { _ in }
        store.call(["DEL", KeySchema.canvasChoices(template)]) { _ in }
        store.call(["SREM", KeySchema.canvasPolls, String(template)]) { reply in done(reply.map { !$0.isError } ?? false) }
    }

    struct Unavailable: Error {}
}

/// A hash as HGETALL returns it.
private struct RedisFields {
    var pairs: [(String, String)] = []

    init(_ reply: RedisReply) {
        guard reply.isArray else { return }
        for index in stride(from: 0, to: reply.count - 1, by: 2) {
            if let key = reply[index].string, let value = reply[index + 1].string { pairs.append((key, value)) }
        }
    }

    subscript(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }
}
