#include "core/run_schema.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <type_traits>

#include "core/errors.h"

namespace emcomm {

// InteractionField::dtype() is the index of the member's type in BatchColumn.
static_assert(std::is_same_v<std::variant_alternative_t<size_t(Dtype::kInt64), BatchColumn>, I64Column>);
static_assert(std::is_same_v<std::variant_alternative_t<size_t(Dtype::kInt32), BatchColumn>, I32Column>);
static_assert(std::is_same_v<std::variant_alternative_t<size_t(Dtype::kFloat32), BatchColumn>, F32Column>);

const std::vector<InteractionField>& interaction_fields() {
  using B = InteractionBatch;
  using P = Presence;
  using R = Rank;
  using M = MinusOne;
  // name               member               rank       presence          -1
  //                      (width member, its name in errors, its letter in docs/hdf5-format.md)
  static const std::vector<InteractionField> fields = {
      {"step",            &B::step,            R::kN,     P::kRequired,     M::kNever},
      {"episode",         &B::episode,         R::kN,     P::kRequired,     M::kNever},
      {"t",               &B::t,               R::kN,     P::kRequired,     M::kNever},
      {"sender",          &B::sender,          R::kN,     P::kRequired,     M::kNever},
      {"receiver",        &B::receiver,        R::kN,     P::kRequired,     M::kNever},
      {"message",         &B::message,         R::kNW,    P::kRequired,     M::kPadding,
                          &B::msg_len, "msg_len", "L"},
      {"length",          &B::length,          R::kN,     P::kRequired,     M::kNever},
      {"concept",         &B::concept,         R::kNW,    P::kWhenWidth,    M::kNever,
                          &B::concept_width, "concept_width", "A"},
      {"sender_action",   &B::sender_action,   R::kNOrNW, P::kWhenNonEmpty, M::kNoValue,
                          &B::sender_action_width, "sender_action_width", "D"},
      {"receiver_action", &B::receiver_action, R::kNOrNW, P::kWhenNonEmpty, M::kNoValue,
                          &B::receiver_action_width, "receiver_action_width", "D"},
      {"target",          &B::target,          R::kNOrNW, P::kWhenNonEmpty, M::kNoValue,
                          &B::target_width, "target_width", "D"},
      {"reward",          &B::reward,          R::kN,     P::kRequired,     M::kNever},
  };
  return fields;
}

const InteractionField& interaction_field(const std::string& name) {
  for (const auto& f : interaction_fields())
    if (name == f.name) return f;
  throw std::logic_error("no interaction field '" + name + "'");
}

std::vector<int> InteractionField::ranks() const {
  switch (rank) {
    case Rank::kN: return {1};
    case Rank::kNW: return {2};
    case Rank::kNOrNW: return {1, 2};
  }
  return {};
}

std::string InteractionField::shape_text() const {
  switch (rank) {
    case Rank::kN: return "[N]";
    case Rank::kNW: return std::string("[N, ") + dim + "]";
    case Rank::kNOrNW: return std::string("[N] or [N, ") + dim + "]";
  }
  return "";
}

const H5::PredType& file_type(Dtype d) {
  switch (d) {
    case Dtype::kInt64: return H5::PredType::STD_I64LE;
    case Dtype::kInt32: return H5::PredType::STD_I32LE;
    case Dtype::kFloat32: return H5::PredType::IEEE_F32LE;
  }
  throw std::logic_error("unknown dtype");
}

const H5::PredType& memory_type(Dtype d) {
  switch (d) {
    case Dtype::kInt64: return H5::PredType::NATIVE_INT64;
    case Dtype::kInt32: return H5::PredType::NATIVE_INT32;
    case Dtype::kFloat32: return H5::PredType::NATIVE_FLOAT;
  }
  throw std::logic_error("unknown dtype");
}

H5T_class_t type_class(Dtype d) { return d == Dtype::kFloat32 ? H5T_FLOAT : H5T_INTEGER; }

size_t dtype_bytes(Dtype d) { return d == Dtype::kInt64 ? 8 : 4; }

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::kInt64: return "int64";
    case Dtype::kInt32: return "int32";
    case Dtype::kFloat32: return "float32";
  }
  return "";
}

const void* field_data(const InteractionBatch& b, const InteractionField& field) {
  return std::visit([&](auto member) -> const void* { return (b.*member).data(); }, field.column);
}

size_t field_size(const InteractionBatch& b, const InteractionField& field) {
  return std::visit([&](auto member) { return (b.*member).size(); }, field.column);
}

// ---------------------------------------------------------------------------------------
// Layout

SplitLayout layout_of(const InteractionBatch& b) {
  SplitLayout l;
  for (const auto& f : interaction_fields()) {
    const int width = f.width ? b.*f.width : 0;
    switch (f.presence) {
      case Presence::kRequired: l.widths.push_back(width); break;
      case Presence::kWhenWidth: l.widths.push_back(width > 0 ? width : -1); break;
      case Presence::kWhenNonEmpty: l.widths.push_back(field_size(b, f) ? width : -1); break;
    }
  }
  return l;
}

namespace {

std::string describe_width(int width) {
  if (width < 0) return "absent";
  return width == 0 ? "[N]" : "[N," + std::to_string(width) + "]";
}

}  // namespace

std::string describe(const SplitLayout& layout) {
  std::string out;
  const auto& fields = interaction_fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    const InteractionField& f = fields[i];
    if (!f.width) continue;  // [N] only: nothing to say
    out += out.empty() ? "" : ", ";
    out += f.required() ? std::string(f.width_name) + "=" + std::to_string(layout.widths[i])
                        : std::string(f.name) + "=" + describe_width(layout.widths[i]);
  }
  return out;
}

std::string describe_shape(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return "[" + out + "]";
}

// ---------------------------------------------------------------------------------------
// Batch checks

void check_batch(const std::string& split, const InteractionBatch& b) {
  const std::string where = "interactions '" + split + "': ";
  const auto& fields = interaction_fields();
  EMCOMM_CHECK(b.rows >= 0, where + "rows is negative");
  // Declared widths first, then every field's size, then the fields present when given.
  for (const auto& f : fields) {
    if (!f.width || f.presence == Presence::kWhenNonEmpty) continue;
    const int width = b.*f.width;
    if (f.required())
      EMCOMM_CHECK(width > 0, where + f.width_name + " must be positive, got " + std::to_string(width));
    else
      EMCOMM_CHECK(width >= 0, where + f.width_name + " is negative");
  }
  const size_t rows = static_cast<size_t>(b.rows);
  auto check_size = [&](const std::string& field, size_t got, size_t want) {
    EMCOMM_CHECK(got == want, where + "field '" + field + "' has " + std::to_string(got) +
                                  " values, expected " + std::to_string(want) +
                                  " (rows=" + std::to_string(b.rows) + ")");
  };
  for (const auto& f : fields) {
    if (f.presence == Presence::kWhenNonEmpty) continue;
    const size_t width = f.width ? static_cast<size_t>(b.*f.width) : 1;
    check_size(f.name, field_size(b, f), rows * width);
  }
  for (const auto& f : fields) {
    if (f.presence != Presence::kWhenNonEmpty) continue;
    const int width = b.*f.width;
    EMCOMM_CHECK(width >= 0, where + f.name + " width is negative");
    if (field_size(b, f)) check_size(f.name, field_size(b, f), rows * static_cast<size_t>(std::max(width, 1)));
  }
  if (b.cic) {
    const CicBlock& c = *b.cic;
    EMCOMM_CHECK(c.messages > 0, where + "cic.messages must be positive");
    EMCOMM_CHECK(c.action_shape.size() == 1 || c.action_shape.size() == 2,
                 where + "cic.action_shape must be {K} or {A, V}, got " + describe_shape(c.action_shape));
    for (int64_t d : c.action_shape)
      EMCOMM_CHECK(d > 0, where + "cic.action_shape " + describe_shape(c.action_shape) + " has a non-positive size");
    const size_t m = static_cast<size_t>(c.messages);
    check_size("cic.p_message", c.p_message.size(), rows * m);
    check_size("cic.p_action", c.p_action.size(), rows * m * static_cast<size_t>(c.action_size()));
    if (!c.message_set.empty())
      check_size("cic.message_set", c.message_set.size(), m * static_cast<size_t>(b.msg_len));
  }
  // The message convention (MinusOne::kPadding): symbols >= 0 before `length`, -1 from it on.
  for (size_t r = 0; r < rows; ++r) {
    const int32_t len = b.length[r];
    EMCOMM_CHECK(len >= 0 && len <= b.msg_len, where + "row " + std::to_string(r) + " has length " +
                                                   std::to_string(len) + ", outside 0.." +
                                                   std::to_string(b.msg_len));
    const int32_t* m = b.message.data() + r * static_cast<size_t>(b.msg_len);
    for (int j = 0; j < b.msg_len; ++j) {
      EMCOMM_CHECK(j < len ? m[j] >= 0 : m[j] == -1,
                   where + "row " + std::to_string(r) + " message position " + std::to_string(j) +
                       " holds " + std::to_string(m[j]) + " with length " + std::to_string(len) +
                       " (symbols must be >= 0 before length and -1 from length on)");
    }
  }
}

// ---------------------------------------------------------------------------------------
// Names

int64_t CicBlock::action_size() const {
  return std::accumulate(action_shape.begin(), action_shape.end(), int64_t{1}, std::multiplies<>());
}

std::string scalar_link_name(const std::string& logical) {
  std::string link = logical;
  std::replace(link.begin(), link.end(), '/', ':');
  return link;
}

std::string scalar_logical_name(const std::string& link) {
  std::string logical = link;
  std::replace(logical.begin(), logical.end(), ':', '/');
  return logical;
}

}  // namespace emcomm
