// The emcomm metrics library: pure functions over the run file's integer arrays and
// probability tables (no LibTorch). docs/metrics.md explains each measure and its caveats.
#pragma once

#include "metrics/basic.h"            // mean_length, symbols_used, accuracy
#include "metrics/cic.h"              // cic, cic_factorised
#include "metrics/disentanglement.h"  // posdis, bosdis
#include "metrics/information.h"      // entropy, mutual_information, context_independence
#include "metrics/symbols.h"          // messages_as_symbols, rows_as_symbols
#include "metrics/table.h"            // IntTable, int_table
#include "metrics/topsim.h"           // topographic_similarity, levenshtein, spearman
