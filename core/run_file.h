// The HDF5 run file (DESIGN.md section 6, schema_version 2): a writer that streams
// scalars and interaction rows into chunked, gzip-compressed, extendable datasets, and
// a reader that checks the layout and reads selected rows without loading the rest.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace emcomm {

inline constexpr int kRunSchemaVersion = 2;

// Counterfactual tables for causal influence of communication (docs/metrics.md), one row per
// interaction row: /interactions/<split>/cic/ (docs/hdf5-format.md).
struct CicBlock {
  int64_t messages = 0;               // M: counterfactual messages per row
  std::vector<int64_t> action_shape;  // {K} (one action) or {A, V} (one distribution per factor)
  std::vector<float> p_message;       // [rows * M]: the sender's p(c|s); NaN in a row without a probe
  std::vector<float> p_action;        // [rows * M * action_size()]: the receiver's p(a|do(c), s)
  // [M * L]: the M messages, the same for every row (symbols, -1 after the end), when the
  // probe enumerated every message; empty when each row has its own sample.
  std::vector<int32_t> message_set;
  int64_t action_size() const;        // product of action_shape
};

// A block of interaction rows (one row per message sent), column-major by field.
// Width 0 for an action/target field means a rank-1 [N] dataset; width D > 0 means [N,D].
struct InteractionBatch {
  int64_t rows = 0;
  int msg_len = 0;                    // L: columns of `message`
  std::vector<int64_t> step;          // [rows]
  std::vector<int64_t> episode;       // [rows]
  std::vector<int32_t> t;             // [rows]
  std::vector<int32_t> sender;        // [rows]
  std::vector<int32_t> receiver;      // [rows]
  std::vector<int32_t> message;       // [rows * msg_len], -1 after the end of the message
  std::vector<int32_t> length;        // [rows]
  int concept_width = 0;              // A; 0 = no concept dataset
  std::vector<int32_t> concept;       // [rows * concept_width]
  int sender_action_width = 0;
  std::vector<int32_t> sender_action; // [rows] or [rows * width]; empty = field absent
  int receiver_action_width = 0;
  std::vector<int32_t> receiver_action;
  int target_width = 0;
  std::vector<int32_t> target;
  std::vector<float> reward;          // [rows]
  // Optional CIC probe of these rows. Once a split has CIC tables, a batch without them
  // leaves its rows unwritten (they read back as NaN: "no probe"); M, the action shape and
  // the message set must stay the same within a split.
  std::optional<CicBlock> cic;
};

class RunWriter {
 public:
  // Creates (truncates) `path` and writes the root attributes and /config.
  // `config` maps "section.key" to the resolved value text; `ini` is the resolved file.
  RunWriter(const std::string& path, const std::map<std::string, std::string>& config,
            const std::string& ini, const std::string& emcomm_version);
  // Reopens an existing run file to continue its run (emcomm train --resume): first drops
  // every scalar/metric point and interaction row (with its CIC tables) whose step is after
  // `keep_through_step` (what was flushed after the checkpoint being resumed), then appends
  // after what is left. Throws UserError naming the file when it is missing, corrupt, not a
  // conforming run file, or locked. Scalar series, metric splits and interaction splits
  // whose (logical) name starts with one of `drop_prefixes` are removed first: what an
  // algorithm logs once at the end of a run (Algorithm::final_log_prefixes), written again
  // when the continued run ends.
  RunWriter(const std::string& path, int64_t keep_through_step, const std::vector<std::string>& drop_prefixes = {});
  // Rewrites /config (each option's value and /config/ini) for a continued run whose config
  // changed (emcomm train --resume RUN_DIR --train.steps=N); options not in `config` keep theirs.
  void update_config(const std::map<std::string, std::string>& config, const std::string& ini);
  ~RunWriter();
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;

  // `name` is a logical name such as "sp_acc/train"; see scalar_link_name().
  void append_scalar(const std::string& name, int64_t step, double value);
  void append_interactions(const std::string& split, const InteractionBatch& batch);
  void append_metric(const std::string& split, const std::string& name, int64_t step, double value);
  // One [rows, cols] float matrix at `step` (row-major `values`; NaN = not evaluated), e.g. the
  // population's cross-play accuracies "crossplay/val" ([P, P], speaker i row, listener j
  // column), stored at /matrices/<link>. Every point of a series has the same shape.
  void append_matrix(const std::string& name, int64_t step, int64_t rows, int64_t cols,
                     const std::vector<float>& values);
  // Flushes every dataset and the file to disk (HDF5 flush, then fsync); called at each
  // evaluation. Between two flushes the writer does not touch the file, so a process killed
  // there leaves the file exactly as the last flush wrote it (docs/reliability.md).
  void flush();
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HDF5 link names cannot contain '/', so the logical scalar name "sp_acc/train" is stored as
// /scalars/sp_acc:train. These two functions are the one place that mapping lives.
std::string scalar_link_name(const std::string& logical);
std::string scalar_logical_name(const std::string& link);

struct ScalarSeries {
  std::vector<int64_t> step;
  std::vector<double> value;
};

// A matrix series: value holds step.size() row-major [rows, cols] matrices.
struct MatrixSeries {
  std::vector<int64_t> step;
  int64_t rows = 0, cols = 0;
  std::vector<float> value;
  const float* at(size_t point) const { return value.data() + point * size_t(rows * cols); }
};

// The rows [first, first + count) of a split logged at one training step.
struct StepRows {
  int64_t step = 0;
  int64_t first = 0;
  int64_t count = 0;
};

class RunReader {
 public:
  // Opens read-only and checks the root attributes; throws emcomm::UserError naming the
  // file and the problem when it is missing, not HDF5, or not an emcomm run file of a
  // supported schema version.
  explicit RunReader(const std::string& path);
  ~RunReader();

  int schema_version() const;
  std::string attribute(const std::string& name) const;          // root string attribute
  std::map<std::string, std::string> config() const;              // /config attributes
  std::string config_ini() const;                                 // /config/ini
  std::vector<std::string> scalar_names() const;                  // logical names
  ScalarSeries scalar(const std::string& logical_name) const;
  std::vector<std::string> matrix_names() const;                  // logical names under /matrices
  MatrixSeries matrix(const std::string& logical_name) const;
  std::vector<std::string> splits() const;                        // groups under /interactions
  int64_t interaction_rows(const std::string& split) const;
  // Reads rows [first, first + count) of one split (count < 0: to the end), without the CIC
  // tables (see cic()).
  InteractionBatch interactions(const std::string& split, int64_t first = 0, int64_t count = -1) const;
  // The CIC tables of rows [first, first + count) (count < 0: to the end), or nothing when
  // the split has no cic/ group. Rows without a probe have NaN in p_message.
  std::optional<CicBlock> cic(const std::string& split, int64_t first = 0, int64_t count = -1) const;
  // The split's rows grouped by step, in file order. Reads only the step dataset, in blocks.
  // Throws UserError when the steps are not in non-decreasing order (the writer appends
  // rows in step order; tools that select a step rely on it).
  std::vector<StepRows> step_rows(const std::string& split) const;
  std::vector<std::string> metric_splits() const;                         // groups under /metrics
  std::vector<std::string> metric_names(const std::string& split) const;  // logical names
  ScalarSeries metric(const std::string& split, const std::string& logical_name) const;
  // Checks the file against the schema; returns one line per problem (empty = conforms).
  std::vector<std::string> validate() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens an existing run file read-write to add /metrics/<split>/<name> points (what
// `emcomm analyze` writes back). Throws UserError naming the file when it is missing, not an
// emcomm run file of a supported schema version, read-only, or locked by another process.
class MetricsAppender {
 public:
  explicit MetricsAppender(const std::string& path);
  ~MetricsAppender();
  MetricsAppender(const MetricsAppender&) = delete;
  MetricsAppender& operator=(const MetricsAppender&) = delete;

  // Sets the series' value at `step`: replaces the value of an existing point with that
  // step, else adds a point (at its place by step when the series is sorted by step, else at
  // the end). A series written by another tool (contiguous datasets, float32 values) is
  // rewritten in the writer's layout when it cannot take the change as it is.
  void set_metric(const std::string& split, const std::string& name, int64_t step, double value);
  // The same for many points at once (one read and one write of the series).
  void set_metric(const std::string& split, const std::string& name, const ScalarSeries& points);
  void flush();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emcomm
