#ifndef RS_CLI_LOAD_PLAN_H
#define RS_CLI_LOAD_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "hw/hw.h"
#include "model/model.h"
#include "plan/fit.h"
#include "util/error.h"

// Plan, then load as planned: what `chat` and `bench` share. The planner
// decides the precision and context for this machine (unless the user
// forced them), one line on stderr states the decision and its reason, and
// the engine loads at that plan. When the load fails for memory anyway (the
// machine's free memory moved, or the plan was wrong), the next smaller plan
// that fits is tried, and the user is told.
//
// With --device cuda (cuda:N) and that GPU found, the plan is made for it
// and the GPUs after it (N, N+1, ... as long as the indexes run on: the
// engine spreads blocks over consecutive devices), each one's free memory
// capped by --gpu-mem when given, and the engine loads as planned
// (load_plan_placement): every block on one GPU (the one with the most free
// memory, when the model fits one), spread over the GPUs in the plan's
// ranges, the plan's split (its GPU blocks first, the rest on the CPU), or
// the CPU. Otherwise the plan is made for the CPU and a GPU found by the
// probe is named and set aside. --gpu-layers N (on the --device GPU) and
// --split A,B override the plan's placement; the precision stays the plan's.

typedef struct load_plan_request {
    const char *cmd;       // "run", "chat", "bench": prefixes the messages
    const char *model;     // HF folder or GGUF file
    const char *precision; // NULL: the planner picks; else forced (plan_precision_parse)
    int64_t n_ctx;         // 0: the planner's default; else forced
    int64_t n_ctx_min;     // the context must hold at least this many tokens (bench)
    dtype kv_type;         // DTYPE_F16 or DTYPE_Q8_0
    int n_threads;         // <= 0: one per core
    const char *device;    // NULL/"cpu", "cuda", "cuda:N" (engine_options.device)
    int64_t n_gpu_layers;  // with a CUDA device: the first N blocks on it (0: none); < 0: the plan's
    uint64_t gpu_mem;      // --gpu-mem: plan as if the GPU had at most this free; 0: as found
    int n_split;           // --split A,B: blocks per GPU from the --device one on (engine.h)
    int64_t split[8];
    bool verbose;
    bool progress; // progress bar while converting weights
    // The loader; NULL: engine_load. Tests pass one that fails for memory
    // to drive the fallback.
    rs_status (*load)(const model_desc *m, const engine_options *opt, engine **out, rs_error *err);
} load_plan_request;

// A request with the defaults of no option given: the planner's precision
// and context, an f16 KV cache, one thread per core, the CPU, the plan's
// GPU blocks.
void load_plan_request_init(load_plan_request *rq, const char *cmd);

// The load options run, chat and bench share, parsed alike so that the three
// accept the same values with the same messages: --precision, --ctx,
// --kv-type, --threads, --device, --gpu-layers, --gpu-mem, --split. Returns
// true when o is one of them (its value v then consumed), with *ok telling
// whether v was good; when not, err holds one line naming the option
// (RS_ERR_INPUT). --split without --device means --device cuda.
bool load_plan_parse_option(load_plan_request *rq, const char *o, const char *v, bool *ok,
                            rs_error *err);

// The engine options of a request as the user gave them: KV type, threads,
// device, GPU blocks or split, progress and verbosity (engine_default_options
// for the rest: the caller sets the precision and the context).
engine_options load_plan_engine_options(const load_plan_request *rq);

// How the engine loads a layout (engine_options' device, n_gpu_layers,
// n_split and split).
typedef struct load_plan_place {
    char device[16];      // "cpu" or "cuda:N" (N: the CUDA index of the first GPU)
    int64_t n_gpu_layers; // one GPU: -1 every block, else the first N blocks; 0 on the CPU
    int n_split;          // several GPUs: blocks per GPU from device on (0: one GPU)
    int64_t split[8];
} load_plan_place;

// The engine placement of a plan's layout on hw (the machine the plan was
// made for: hw->gpus[i].index is the CUDA index). Fails with RS_ERR_RUNTIME
// for a layout the engine cannot load: GPUs whose CUDA indexes do not run
// on, more than 8, a GPU without blocks, or GPU blocks not starting at 0.
rs_status load_plan_placement(const plan_layout *l, const hw_info *hw, int64_t n_layer,
                              load_plan_place *out, rs_error *err);
// One line for the user: "every block on the GPU (cuda:1)", "40+40 blocks
// on GPUs 0-1", "6 of 28 blocks on the GPU, the rest on the CPU".
void load_plan_place_describe(const load_plan_place *p, int64_t n_layer, char *buf, size_t n);

typedef struct load_plan {
    model_desc *m;
    hw_info hw;
    plan_result *plan; // (malloc'd) the fit, every precision's row
    int row;           // the row loaded (plan->rows[row]); after a fallback, not plan->chosen
    engine_options eo; // what the engine was loaded with
    load_plan_place place; // the planned placement (eo.device points into it)
    engine *e;
    double load_s; // wall seconds of engine_load
    bool gpu_plan; // planned for the GPUs of --device cuda[:N] on (hw holds them alone)
    uint64_t gpu_free_probed; // the first one's free memory as NVML found it, before --gpu-mem
    int n_probed;             // every GPU the probe found: CUDA index, free memory
    int probed_index[HW_MAX_GPUS];
    uint64_t probed_free[HW_MAX_GPUS];
} load_plan;

// Opens the model (a catalog name is refused: it has no weights). Called by
// load_plan_prepare when lp->m is not open yet; lp must be zeroed first.
rs_status load_plan_open(const load_plan_request *rq, load_plan *lp, rs_error *err);
// Opens the model (unless open), probes the machine, fits, and prints the
// decision line.
// Fails with RS_ERR_INPUT for bad options or models, RS_ERR_RUNTIME when
// nothing fits (err holds the planner's "needs X, has Y" line).
rs_status load_plan_prepare(const load_plan_request *rq, load_plan *lp, rs_error *err);
// Loads the engine at the plan's row, falling back (with a notice on
// stderr) to the next smaller plan when memory runs out.
rs_status load_plan_load(const load_plan_request *rq, load_plan *lp, rs_error *err);
void load_plan_free(load_plan *lp);

// The plan to try after row `failed` ran out of memory: the largest
// candidate row that fits with fewer weight bytes than the failed one and
// was not tried yet (tried: bit i set for row i); -1 when none is left.
int load_plan_next_row(const plan_result *r, int failed, uint32_t tried);

// --gpu-mem: every GPU of hw as if it had at most `bytes` free (and in
// total). 0 leaves hw as it is.
void load_plan_cap_gpu_mem(hw_info *hw, uint64_t bytes);

// Parses --split "A,B,...": 1 to 8 block counts, each >= 1. Returns false
// for anything else.
bool load_plan_parse_split(const char *s, int64_t *split, int *n_split);

// Whether the plan of lp was made for a GPU (--device cuda with one found).
bool load_plan_on_gpu(const load_plan *lp);

// Peak resident memory of this process (VmHWM) and the current one
// (VmRSS), bytes; 0 where /proc/self/status cannot be read.
uint64_t load_plan_peak_rss(void);
uint64_t load_plan_current_rss(void);

#endif
