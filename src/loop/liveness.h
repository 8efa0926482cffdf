// Liveness: how a callback that may run after its owner is gone finds that out.
//
// An owner whose callbacks can outlive it (posted functions, transport and worker completions,
// abort hooks) holds one Liveness. Each such callback captures a Token by value next to `this`
// and returns early unless token.alive(). The owner is dead for its tokens from Revoke() or its
// Liveness's destruction, whichever comes first; call Revoke() first thing in a destructor whose
// other members' teardown can run callbacks.
//
// Threading: Revoke() and Token::alive() run on the loop thread, like all state they guard.
// Tokens may be copied, carried and destroyed on any thread (a worker hands one back through
// Loop::Post), because the flag they share is reference-counted atomically.
#pragma once

#include <memory>

namespace spegel {

class Liveness {
 public:
  class Token {
   public:
    // True while the owner that issued this token has not revoked. Loop thread only.
    bool alive() const { return flag_ != nullptr && *flag_; }

   private:
    friend class Liveness;
    explicit Token(std::shared_ptr<const bool> flag) : flag_(std::move(flag)) {}
    std::shared_ptr<const bool> flag_;
  };

  Liveness() : flag_(std::make_shared<bool>(true)) {}
  ~Liveness() { Revoke(); }
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // Every token issued so far and later reports dead. Idempotent.
  void Revoke() { *flag_ = false; }
  Token token() const { return Token(flag_); }
  // A token that was never alive: for an owner asked for one while it guards nothing (e.g. a
  // ResponseWriter between exchanges).
  static Token DeadToken() { return Token(nullptr); }

 private:
  std::shared_ptr<bool> flag_;
};

}  // namespace spegel
