// The run file's interaction fields, stated once (docs/hdf5-format.md, /interactions/<split>).
//
// interaction_fields() is the one list of the datasets of an interactions split: the writer
// creates and appends them from it, check_batch() checks a batch against it, the reader
// fills an InteractionBatch from it and validate() checks a file against it. A new field is
// one row there (plus its InteractionBatch member and its line in docs/hdf5-format.md, which
// a test compares with the table). Internal to core/: users include core/run_file.h.
//
// Where other additions go (each with a schema_version bump in run_file.h and docs):
// - a per-row dataset of another shape, e.g. [N, M, K]: a new Rank (ranks(), shape_text())
//   and the widths it needs in InteractionBatch; the writer's width_tail() becomes the tail;
// - a per-evaluation array that is not one value per row, e.g. a [P, P] cross-play matrix:
//   not an interaction field but a series kind beside /scalars and /metrics: a step column
//   and a value column of tail {P, P} (create_column/append_rows/reopen_column in
//   core/run_h5.h take any tail), appended by a RunWriter method next to append_metric,
//   continued on resume like reopen_series (run_writer.cc), read by a RunReader method like
//   metric() (run_reader.cc) and checked by a validate_*_group next to
//   validate_series_group (run_validate.cc).
#pragma once

#include <H5Cpp.h>

#include <string>
#include <variant>
#include <vector>

#include "core/run_file.h"

namespace emcomm {

// The element type on disk; it is also the type of the InteractionBatch member.
enum class Dtype { kInt64, kInt32, kFloat32 };

// Shape of a field of N rows.
enum class Rank {
  kN,       // [N]
  kNW,      // [N, W]: W from the batch's width member (message: L, concept: A)
  kNOrNW,   // [N] when the width member is 0, [N, D] when it is D > 0 (actions, target)
};

// When a split has the field.
enum class Presence {
  kRequired,      // always; a width, if any, must be positive
  kWhenWidth,     // only when the batch's width member is > 0 (concept)
  kWhenNonEmpty,  // only when the batch's values are not empty (actions, target)
};

// What -1 means in the field (documentation and the message checks).
enum class MinusOne {
  kNever,       // not a special value
  kPadding,     // message: -1 exactly from `length` on, symbols >= 0 before
  kNoValue,     // "no action" / "no target"
};

using I64Column = std::vector<int64_t> InteractionBatch::*;
using I32Column = std::vector<int32_t> InteractionBatch::*;
using F32Column = std::vector<float> InteractionBatch::*;
using BatchColumn = std::variant<I64Column, I32Column, F32Column>;

struct InteractionField {
  const char* name;         // dataset name under /interactions/<split>/
  BatchColumn column;       // the InteractionBatch member holding the values (its type: the dtype)
  Rank rank;
  Presence presence;
  MinusOne minus_one;
  int InteractionBatch::* width = nullptr;  // W or D (kNW, kNOrNW)
  const char* width_name = nullptr;         // that member's name, as errors say it
  const char* dim = nullptr;                // the width's letter in docs/hdf5-format.md: L, A, D

  Dtype dtype() const { return static_cast<Dtype>(column.index()); }
  bool required() const { return presence == Presence::kRequired; }
  std::vector<int> ranks() const;    // allowed dataset ranks: {1}, {2} or {1, 2}
  std::string shape_text() const;    // "[N]", "[N, L]", "[N] or [N, D]" (docs/hdf5-format.md)
};

// In the writer's creation order (the order of the datasets in a file emcomm writes).
const std::vector<InteractionField>& interaction_fields();
const InteractionField& interaction_field(const std::string& name);  // throws for an unknown name

// How the field's dtype is stored, read into memory, and checked by validate().
const H5::PredType& file_type(Dtype d);    // STD_I64LE, STD_I32LE, IEEE_F32LE
const H5::PredType& memory_type(Dtype d);  // NATIVE_INT64, NATIVE_INT32, NATIVE_FLOAT
H5T_class_t type_class(Dtype d);           // H5T_INTEGER or H5T_FLOAT
size_t dtype_bytes(Dtype d);
const char* dtype_name(Dtype d);           // "int64", "int32", "float32"

// The values of `field` in `b`: their address and count.
const void* field_data(const InteractionBatch& b, const InteractionField& field);
size_t field_size(const InteractionBatch& b, const InteractionField& field);

// Which fields a split has and their widths, one entry per interaction_fields() row:
// -1 absent, 0 [N], W [N, W]. Fixed by the split's first append.
struct SplitLayout {
  std::vector<int> widths;
  bool operator==(const SplitLayout& o) const { return widths == o.widths; }
};
SplitLayout layout_of(const InteractionBatch& b);
// "msg_len=6, concept=[N,6], sender_action=[N], receiver_action=absent, target=[N,6]".
std::string describe(const SplitLayout& layout);

// "[6, 10]": a CIC action shape in errors.
std::string describe_shape(const std::vector<int64_t>& shape);

// Checks a batch against its own declared sizes and the message convention before it is
// written (EMCOMM_CHECK: std::invalid_argument naming the split and the field).
void check_batch(const std::string& split, const InteractionBatch& b);

}  // namespace emcomm
