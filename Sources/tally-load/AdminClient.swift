import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The organizer calls a run needs, through tallyd's native API: create its polls, read results.
struct AdminClient {
    let base: URL
    let organizerToken: String

    /// Creates a poll that allows revotes; returns its id.
    func createPoll(options: Int, expectedVoters: Int) throws -> String {
        let body: [String: Any] = [
            "question": "tally-load", "options": (0..<options).map { "option \($0)" }, "revote": true,
            "expectedVoters": max(expectedVoters, 1), "labels": ["source": "tally-load"],
        ]
        let reply = try call("POST", "/v1/polls", body: try JSONSerialization.data(withJSONObject: body))
        guard reply.status == 201, let id = reply.json["id"] as? String else { throw LoadError("creating a poll: \(reply.status) \(reply.text)") }
        return id
    }

    /// The votes per option tallyd reports for poll `id`.
    func votes(poll id: String) throws -> [Int] {
        let reply = try call("GET", "/v1/polls/\(id)/results", body: nil)
        guard reply.status == 200, let options = reply.json["options"] as? [[String: Any]] else {
            throw LoadError("results of poll \(id): \(reply.status) \(reply.text)")
        }
        return options.map { $0["votes"] as? Int ?? -1 }
    }

    private func call(_ method: String, _ path: String, body: Data?) throws -> (status: Int, json: [String: Any], text: String) {
        var request = URLRequest(url: base.appendingPathComponent(path), timeoutInterval: 10)
        request.httpMethod = method
        request.httpBody = body
        request.setValue("Bearer \(organizerToken)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Data?, URLResponse?, Error?)
        URLSession.shared.dataTask(with: request) { data, response, error in
            result = (data, response, error)
            done.signal()
        }.resume()
        done.wait()
        if let error = result.2 { throw LoadError("\(method) \(path): \(error.localizedDescription)") }
        let data = result.0 ?? Data()
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((result.1 as? HTTPURLResponse)?.statusCode ?? 0, json, String(decoding: data, as: UTF8.self))
    }
}
