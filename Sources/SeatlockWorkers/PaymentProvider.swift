// The payment provider seen by the payments worker. A real provider plugs in
// behind the same protocol. Calls are asynchronous and complete on the
// worker's loop; the booking id is the idempotency key, so a retried or
// redelivered charge never charges twice.
import Foundation
import SeatlockCore
import SeatlockLoop
import SeatlockRedis

public enum ChargeResult: Sendable, Equatable {
    case succeeded(paymentId: String)
    case failed(reason: String, retryable: Bool)
}

/// A refunded charge, as the provider names it.
public struct Refund: Sendable, Equatable {
    public let paymentId: String
    public let refundId: String
    public init(paymentId: String, refundId: String) {
        self.paymentId = paymentId
        self.refundId = refundId
    }
}

public protocol PaymentProvider: AnyObject {
    func charge(idempotencyKey: String, amountCents: Int, token: String, completion: @escaping (ChargeResult) -> Void)
    /// Refunds the charge made under `idempotencyKey` (once, however often
    /// asked); `nil` when there was no charge.
    func refund(idempotencyKey: String, completion: @escaping (Result<Refund?, RedisError>) -> Void)
}

/// The API's test tokens (docs/api.md), no network: `tok_visa` succeeds, `tok_chargeDeclined`
/// fails for good, `tok_flaky` fails twice (retryable) then succeeds,
/// `tok_slow` succeeds after 2 s; anything else is declined. Its ledger lives
/// in Redis (outside every event's slot, as a provider's own books would), so
/// "charged once" holds across worker restarts:
///   sl:provider:charges  hash  idempotency key -> payment id
///   sl:provider:attempts hash  idempotency key -> charge attempts (for tok_flaky)
///   sl:provider:refunds  hash  idempotency key -> refund id
public final class SimulatedPaymentProvider: PaymentProvider {
    private let redis: RedisConnection
    private let loop: EventLoop
    public var slowDelay: Duration = .seconds(2)

    public init(loop: EventLoop, redis: RedisConnection) {
        self.loop = loop
        self.redis = redis
    }

    public func charge(idempotencyKey: String, amountCents: Int, token: String, completion: @escaping (ChargeResult) -> Void) {
        redis.send(["HINCRBY", GlobalKeys.providerAttempts, idempotencyKey, "1"]) { [self] result in
            guard case let .success(.integer(attempt)) = result else {
                return completion(.failed(reason: "provider_unreachable", retryable: true))
            }
            switch token {
            case "tok_visa": book(idempotencyKey, completion)
            case "tok_slow": loop.schedule(after: slowDelay) { [self] in book(idempotencyKey, completion) }
            case "tok_flaky" where attempt <= 2: completion(.failed(reason: "processor_timeout", retryable: true))
            case "tok_flaky": book(idempotencyKey, completion)
            case "tok_chargeDeclined": completion(.failed(reason: "card_declined", retryable: false))
            default: completion(.failed(reason: "unknown_payment_token", retryable: false))
            }
        }
    }

    /// Records the charge once; a repeat returns the first payment id.
    private func book(_ key: String, _ completion: @escaping (ChargeResult) -> Void) {
        let paymentId = "pay_" + key
        redis.send(["HSETNX", GlobalKeys.providerCharges, key, paymentId]) { result in
            if case .success(.integer) = result {
                completion(.succeeded(paymentId: paymentId))
            } else {
                completion(.failed(reason: "provider_unreachable", retryable: true))
            }
        }
    }

    public func refund(idempotencyKey: String, completion: @escaping (Result<Refund?, RedisError>) -> Void) {
        redis.send(["HGET", GlobalKeys.providerCharges, idempotencyKey]) { [redis] result in
            switch result {
            case .success(.null): completion(.success(nil))
            case let .success(.bulk(paymentId)):
                let refundId = "re_" + idempotencyKey
                redis.send(["HSETNX", GlobalKeys.providerRefunds, idempotencyKey, refundId]) { result in
                    completion(result.map { _ in Refund(paymentId: paymentId, refundId: refundId) })
                }
            case let .success(other): completion(.failure(RedisError(.server, "\(other)")))
            case let .failure(error): completion(.failure(error))
            }
        }
    }
}
