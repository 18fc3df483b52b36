#include "engine/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "engine/error.h"

namespace cnne::pickle {
namespace {

// Opcodes of CPython's Lib/pickle.py that torch.save's pickles (protocol 2 by
// default, 4 or 5 on request) can contain. The text-based protocol-0 opcodes
// are refused.
enum Op : uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  BININT = 'J',
  BININT1 = 'K',
  BININT2 = 'M',
  NONE = 'N',
  BINPERSID = 'Q',
  REDUCE = 'R',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  BINGET = 'h',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  BYTEARRAY8 = 0x96,
};

class Machine {
 public:
  Machine(std::span<const uint8_t> bytes, const std::string& where) : in_(bytes), where_(where) {}

  Unpickled run() {
    while (true) {
      if (pos_ >= in_.size()) throw fail("ends without STOP: truncated");
      op_at_ = pos_;
      const uint8_t op = in_[pos_++];
      if (op == STOP) break;
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty())
      throw fail("leaves " + std::to_string(stack_.size()) + " values on its stack at STOP");
    out_.root = stack_.back();
    return std::move(out_);
  }

 private:
  CheckpointError fail(const std::string& why) const {
    return CheckpointError(where_ + ": pickle " + why + " (opcode at byte " +
                           std::to_string(op_at_) + ")");
  }

  const uint8_t* take(uint64_t n) {
    if (n > in_.size() - pos_) throw fail("is truncated inside an opcode's argument");
    const uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t unsigned_le(int n) {
    const uint8_t* p = take(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string line() {  // GLOBAL's newline-terminated arguments
    const size_t start = pos_;
    while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    if (pos_ >= in_.size()) throw fail("GLOBAL is truncated");
    return std::string(reinterpret_cast<const char*>(in_.data()) + start, pos_++ - start);
  }

  Ref make(Object o) {
    out_.objects.push_back(std::move(o));
    return static_cast<Ref>(out_.objects.size() - 1);
  }
  Ref make_int(int64_t v, Kind k = Kind::Int) {
    Object o;
    o.kind = k;
    o.integer = v;
    return make(std::move(o));
  }
  Ref make_text(Kind k, uint64_t n) {
    Object o;
    o.kind = k;
    o.text.assign(reinterpret_cast<const char*>(take(n)), n);
    return make(std::move(o));
  }
  Ref make_global(std::string module, const std::string& name) {
    Object o;
    o.kind = Kind::Global;
    o.text = std::move(module) + "." + name;
    return make(std::move(o));
  }
  Ref make_sequence(Kind k, std::vector<Ref> items) {
    Object o;
    o.kind = k;
    o.items = std::move(items);
    return make(std::move(o));
  }

  void push(Ref r) { stack_.push_back(r); }
  Ref pop() {
    if (stack_.size() <= floor()) throw fail("pops from an empty stack");
    const Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref top() const {
    if (stack_.size() <= floor()) throw fail("reads an empty stack");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Ref> pop_mark() {  // the items above the last MARK, and the mark
    if (marks_.empty()) throw fail("has no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Object& object(Ref r) { return out_.objects[r]; }

  void put(uint64_t key) { memo_[key] = top(); }
  void get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) throw fail("reads memo entry " + std::to_string(key) + ", never stored");
    push(it->second);
  }

  // APPEND(S) and SETITEM(S) on `target`; a call's result (an object cnnengine
  // does not model) takes its items and drops them.
  void extend(Ref target, const std::vector<Ref>& items, bool pairs) {
    Object& t = object(target);
    if (pairs && items.size() % 2) throw fail("SETITEMS has an odd number of items");
    if (t.kind == Kind::Call) return;
    if (pairs ? t.kind != Kind::Dict : t.kind != Kind::List)
      throw fail(std::string(pairs ? "sets items on " : "appends to ") + describe(out_, target));
    t.items.insert(t.items.end(), items.begin(), items.end());
  }

  void call(Ref callable, Ref arguments) {
    if (object(arguments).kind != Kind::Tuple)
      throw fail("calls " + describe(out_, callable) + " with " + describe(out_, arguments) +
                 " instead of an argument tuple");
    const Object& f = object(callable);
    if (f.kind == Kind::Global && f.text == "collections.OrderedDict" &&
        object(arguments).items.empty()) {
      push(make_sequence(Kind::Dict, {}));
      return;
    }
    push(make_sequence(Kind::Call, {callable, arguments}));
  }

  void step(uint8_t op) {
    switch (op) {
      case PROTO:
        if (take(1)[0] > 5) throw fail("protocol " + std::to_string(in_[pos_ - 1]) + " is unknown");
        return;
      case FRAME:
        take(8);  // a length hint; the opcodes follow inline
        return;
      case MARK:
        marks_.push_back(stack_.size());
        return;
      case POP:
        if (stack_.size() == floor() && !marks_.empty())
          marks_.pop_back();  // POP of a bare MARK
        else
          pop();
        return;
      case POP_MARK:
        pop_mark();
        return;
      case DUP:
        push(top());
        return;
      case NONE:
        push(make(Object{}));
        return;
      case NEWTRUE:
      case NEWFALSE:
        push(make_int(op == NEWTRUE, Kind::Bool));
        return;
      case BININT:
        push(make_int(static_cast<int32_t>(unsigned_le(4))));
        return;
      case BININT1:
        push(make_int(static_cast<int64_t>(unsigned_le(1))));
        return;
      case BININT2:
        push(make_int(static_cast<int64_t>(unsigned_le(2))));
        return;
      case LONG1:
      case LONG4: {
        const uint64_t n = unsigned_le(op == LONG1 ? 1 : 4);
        if (n > 8) throw fail("holds an integer of " + std::to_string(n) + " bytes, beyond int64");
        const uint8_t* p = take(n);
        uint64_t v = 0;
        for (uint64_t i = n; i-- > 0;) v = (v << 8) | p[i];
        if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        push(make_int(static_cast<int64_t>(v)));
        return;
      }
      case BINFLOAT: {
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
        Object o;
        o.kind = Kind::Float;
        std::memcpy(&o.real, &bits, 8);
        push(make(std::move(o)));
        return;
      }
      case SHORT_BINUNICODE:
      case SHORT_BINSTRING:
        push(make_text(Kind::String, unsigned_le(1)));
        return;
      case BINUNICODE:
      case BINSTRING:
        push(make_text(Kind::String, unsigned_le(4)));
        return;
      case BINUNICODE8:
        push(make_text(Kind::String, unsigned_le(8)));
        return;
      case SHORT_BINBYTES:
        push(make_text(Kind::Bytes, unsigned_le(1)));
        return;
      case BINBYTES:
        push(make_text(Kind::Bytes, unsigned_le(4)));
        return;
      case BINBYTES8:
      case BYTEARRAY8:
        push(make_text(Kind::Bytes, unsigned_le(8)));
        return;
      case EMPTY_TUPLE:
        push(make_sequence(Kind::Tuple, {}));
        return;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        std::vector<Ref> items(static_cast<size_t>(op - TUPLE1 + 1));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(make_sequence(Kind::Tuple, std::move(items)));
        return;
      }
      case TUPLE:
        push(make_sequence(Kind::Tuple, pop_mark()));
        return;
      case EMPTY_LIST:
        push(make_sequence(Kind::List, {}));
        return;
      case LIST:
        push(make_sequence(Kind::List, pop_mark()));
        return;
      case EMPTY_DICT:
        push(make_sequence(Kind::Dict, {}));
        return;
      case DICT: {
        std::vector<Ref> items = pop_mark();
        if (items.size() % 2) throw fail("DICT has an odd number of items");
        push(make_sequence(Kind::Dict, std::move(items)));
        return;
      }
      case EMPTY_SET:  // sets and frozensets are kept as lists
        push(make_sequence(Kind::List, {}));
        return;
      case FROZENSET:
        push(make_sequence(Kind::List, pop_mark()));
        return;
      case APPEND: {
        const Ref v = pop();
        extend(top(), {v}, false);
        return;
      }
      case APPENDS:
      case ADDITEMS: {
        std::vector<Ref> items = pop_mark();
        extend(top(), items, false);
        return;
      }
      case SETITEM: {
        const Ref v = pop(), k = pop();
        extend(top(), {k, v}, true);
        return;
      }
      case SETITEMS: {
        std::vector<Ref> items = pop_mark();
        extend(top(), items, true);
        return;
      }
      case GLOBAL: {
        std::string module = line();
        push(make_global(std::move(module), line()));
        return;
      }
      case STACK_GLOBAL: {
        const Ref name = pop(), module = pop();
        if (object(name).kind != Kind::String || object(module).kind != Kind::String)
          throw fail("STACK_GLOBAL takes two strings");
        push(make_global(object(module).text, object(name).text));
        return;
      }
      case REDUCE:
      case NEWOBJ: {
        const Ref arguments = pop(), callable = pop();
        call(callable, arguments);
        return;
      }
      case NEWOBJ_EX: {
        pop();  // keyword arguments
        const Ref arguments = pop(), callable = pop();
        call(callable, arguments);
        return;
      }
      case BUILD: {
        // __setstate__'s state (OrderedDict's _metadata, an object's
        // attributes, a numpy array's shape, dtype and bytes): kept on a call's
        // result as its third item, dropped elsewhere.
        const Ref state = pop();
        Object& target = object(top());
        if (target.kind == Kind::Call && target.items.size() == 2) target.items.push_back(state);
        return;
      }
      case BINPERSID:
        push(make_sequence(Kind::PersistentId, {pop()}));
        return;
      case BINPUT:
        put(unsigned_le(1));
        return;
      case LONG_BINPUT:
        put(unsigned_le(4));
        return;
      case MEMOIZE:
        put(memo_.size());
        return;
      case BINGET:
        get(unsigned_le(1));
        return;
      case LONG_BINGET:
        get(unsigned_le(4));
        return;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        throw fail(std::string("opcode ") + hex +
                   " is not supported (a binary pickle, protocol 2 to 5, was expected)");
      }
    }
  }

  std::span<const uint8_t> in_;
  const std::string& where_;
  size_t pos_ = 0, op_at_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, Ref> memo_;
  Unpickled out_;
};

}  // namespace

Unpickled unpickle(std::span<const uint8_t> bytes, const std::string& where) {
  return Machine(bytes, where).run();
}

std::string describe(const Unpickled& p, Ref r) {
  const Object& o = p.at(r);
  switch (o.kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "a bool";
    case Kind::Int:
      return "an int";
    case Kind::Float:
      return "a float";
    case Kind::String:
      return "a string";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "a tuple";
    case Kind::List:
      return "a list";
    case Kind::Dict:
      return "a dict";
    case Kind::Global:
      return "the name " + o.text;
    case Kind::Call: {
      const Object& f = p.at(o.items[0]);
      return f.kind == Kind::Global ? "a " + f.text + " object" : "an object";
    }
    case Kind::PersistentId:
      return "a persistent id";
  }
  return "an object";
}

}  // namespace cnne::pickle
