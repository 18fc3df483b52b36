#pragma once
// FunctionRef<R(A...)>: a non-owning reference to something callable, for a
// callback used only during the call it is passed to (the CPU thread pool's
// jobs). Unlike std::function it never allocates: a lambda capturing more
// than two references would make std::function allocate on every op of every
// training step.
#include <memory>
#include <type_traits>
#include <utility>

namespace cnne {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                                    std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert at the call
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace cnne
