/* kit.h — the lesson kit: a lesson is a description and a few hooks; the kit runs it.
 *
 * A lesson (lessons/<name>/) fills one `Lesson` (its settings, models, loss parts, metric
 * columns, batch tensors and hooks) and, for the window, one `LessonView` (view.h: its
 * snapshot, its panels and its keys). The kit (lessons/common/) owns everything else: the
 * command line of CLI.md, the trainer (parameter blocks, AdamW, the schedule, the tape, the
 * RNG, metrics, evaluation cadence, the NaN check, save and resume), the export of
 * EXPORT.md, the window with its worker thread, and the standard panels.
 *
 * The kit calls the lesson only through these hooks; the lesson calls the kit only through
 * the kit_* functions below. lessons/README.md walks through writing one, with mlm as the
 * worked example.
 *
 * Determinism: the kit seeds three streams from --seed: (seed, 0) the batches and every
 * draw the objective makes while training, (seed, 1) the initial weights, (seed, 2) the
 * lesson's held-out set; a lesson that needs draws of its own outside these takes streams 3
 * and up (mlm's static masks). Nothing else may change a number of the run. */
#ifndef FMLAB_LESSONS_KIT_H
#define FMLAB_LESSONS_KIT_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/corpus.h"
#include "engine/engine.h"
#include "lessons/common/finding.h"
#include "lessons/common/masking.h"
#include "lessons/common/metrics.h"
#include "lessons/common/runtime.h"

#define KIT_MAX_MODELS 4
#define KIT_MAX_BLOCKS 4
#define KIT_MAX_PARTS 4
#define KIT_MAX_EXTRA 16
#define KIT_MAX_STREAMS 2
#define KIT_MAX_BATCH 12
#define KIT_MAX_REFS 4

typedef struct Run Run;
typedef struct KitTrained KitTrained;

/* A model of the lesson: exported as <folder>/ (config.json, model.safetensors, vocab.txt,
 * and grads.safetensors when trained). Models in the same block share one ParamBlock and one
 * AdamW (ELECTRA's generator and discriminator); a frozen model (a teacher) has its own. */
typedef struct KitModelSpec {
    const char *folder;              /* "bert" */
    const char *class_name;          /* "BertForMaskedLM": for --describe and the tests */
    int block;                       /* parameter block index */
    bool trained;
    const char *streams[KIT_MAX_STREAMS];   /* attention streams: {""} or {"content", "query"} */
    const char *label;               /* its name on screen (NULL: the folder) */
    bool alt;                        /* another variant of the model before it, exported in its
                                        place when the lesson's `exported` hook says so (finetune's
                                        probe and scratch runs), or a yardstick trained beside it
                                        and never exported (albert's BERT); --describe lists the
                                        first only */
} KitModelSpec;

/* A tensor of batch.safetensors. The shape is written in symbols: B (batch), T (seq_len),
 * K (num_predict): "BT", "B", "BTT", "BK". Ids and masks are exported as I64. */
typedef enum KitSrc { KIT_I32, KIT_U8, KIT_F32 } KitSrc;
typedef struct KitTensorSpec {
    const char *name;
    KitSrc src;                      /* what the lesson's array holds */
    const char *shape;
} KitTensorSpec;

typedef struct Lesson {
    LessonInfo info;                 /* name, title, summary, keys (model keys, lesson keys,
                                        then KIT_TRAINER_KEYS), default batch and lr */
    const KitModelSpec *models;
    int nmodels;
    const char *const *parts;        /* loss parts: lesson.json losses and metrics.csv columns */
    int nparts;
    const char *const *extra;        /* metrics.csv columns after lr (accuracies, held-out) */
    int nextra;
    const KitTensorSpec *batch;      /* batch.safetensors, in order */
    int nbatch;
    const char *const *const *tied;  /* pairs of "model/name", NULL-terminated; NULL = none */
    size_t state_size;               /* the lesson's own state, allocated zeroed by the kit */

    /* Loads data, builds the models (kit_model, kit_block) and the held-out set; sets
     * run->vocab, run->arena_bytes and run->refs. Returns -1 to go on, or an exit status
     * with the message printed (runtime_usage_error). Weights are initialised after it. */
    int (*init)(Run *r);
    void (*free)(Run *r);
    /* After the kit set every weight from (seed, 1), at the start and at a reset: the lesson
     * may replace some (a pretrained encoder). May be NULL. */
    void (*weights)(Run *r);
    /* After a reset to a new seed (weights, optimizer, batches and metrics are the kit's):
     * the lesson's held-out set and its own counters. May be NULL. */
    void (*reset)(Run *r);
    /* Draws the next training batch with r->rng (the objective's corruption included). */
    void (*next_batch)(Run *r);
    /* Forward on the current batch: returns the total loss (a scalar on r->tape), writes
     * each part's value into parts and the lesson's extra columns it measures on the batch
     * (e.g. accuracy) into extra (pre-set to NaN), and keeps each model's attention with
     * kit_keep_attention. */
    Tensor *(*loss)(Run *r, float *parts, float *extra);
    /* Held-out figures into extra (its held-out columns); called by the kit every
     * eval_every steps. Use kit_eval_begin/kit_eval_end around its forward passes. */
    void (*evaluate)(Run *r, float *extra);
    /* The lesson's array for batch tensor i (lesson->batch[i]) of the current batch. */
    const void *(*batch_data)(const Run *r, int i);
    /* A setting changed while the window runs (r->opt.value[key] is already the new,
     * clamped value): re-derive the lesson's config, enforce constraints between keys. */
    void (*on_setting)(Run *r, int key);
    /* Whether model i is in the export now (NULL: every model is). A lesson that trains
     * variants side by side exports the one a setting chooses, under its spec's folder. */
    bool (*exported)(const Run *r, int model);
    /* Running counts saved in checkpoints (e.g. the realised masking tally), or NULL. */
    int64_t *(*counters)(Run *r, int *n);
    /* Where the objective lets model i's attention (stream st) look in sequence `seq` of the
     * current batch: allow (T,T) = 1 where query i may attend to key j. Returns false when
     * every key is allowed. The window draws forbidden cells hatched, apart from those the
     * model merely ignores. NULL: no mask to draw. */
    bool (*allowed)(const Run *r, int model, int stream, int seq, uint8_t *allow);
    /* Settings that change only what the window shows, not training (gpt's generation): the
     * window's keys for them draw no new batch and leave no mark on the curves, and --resume
     * takes a new value for them. NULL-terminated; NULL: none. */
    const char *const *display_keys;
    /* What it means here when a head puts its attention on the NEXT token, said where the kit
     * reports the word-order moment (window, curves, headless summary): gpt's causal = 0, where
     * it is the leak. NULL: word order, as for the previous token. `order_next_mark` is its
     * one-word form for the curves. */
    const char *order_next, *order_next_mark;
    /* The batch tensor each model reads (indexed as models; NULL, or a NULL entry:
       "input_ids"): its tokens label that model's attention maps. electra's discriminator
       reads "corrupted_ids", the generator's samples in place of the [MASK]s. */
    const char *const *model_input;
} Lesson;

/* The trainer's keys, in this order, at the end of every lesson's key table. */
#define KIT_TRAINER_KEYS(warmup, eval_every)                                                          \
    {"warmup_steps", (warmup), 0, 1000000, true, "steps of linear learning-rate warm-up", NULL},              \
    {"weight_decay", 0.01, 0, 1, false, "AdamW's decoupled weight decay", NULL},                              \
    {"max_grad_norm", 1.0, 0, 1000, false, "clip the gradient's global norm (0 = off)", NULL},                \
    {"eval_every", (eval_every), 1, 1000000, true, "steps between held-out evaluations", NULL}

typedef struct KitBlock {
    ParamBlock pb;
    AdamW adam;
    bool trained;
} KitBlock;

/* The history that lets the window go back in time exactly: the whole trainer state every
 * KIT_SLOT_EVERY steps (the last KIT_SLOTS of them), the RNG state before each step's batch,
 * and every setting changed while the run went on. Rewinding restores the nearest state
 * before the target and replays the steps in between: the same batches, the same numbers. */
#define KIT_SLOT_EVERY 50
#define KIT_SLOTS 8
#define KIT_MAX_COUNTERS 16
typedef struct KitSlot {
    long step;
    float *mem[KIT_MAX_BLOCKS];              /* data, m and v of each block */
    int64_t adam_step[KIT_MAX_BLOCKS];
    int64_t counters[KIT_MAX_COUNTERS];
    double value[MAX_KEYS];
} KitSlot;
typedef struct KitSetting { long step; int key; double value; } KitSetting;

typedef struct KitModel {
    Model model;
    float **attn[KIT_MAX_STREAMS];   /* (B,NH,T,T) per layer, of the last forward on the batch */
} KitModel;

struct Run {
    const Lesson *lesson;
    RunOptions opt;
    void *self;                      /* the lesson's state */
    const Vocab *vocab;              /* the lesson's tokenizer: vocab.txt and token labels */
    KitModel models[KIT_MAX_MODELS];
    KitBlock blocks[KIT_MAX_BLOCKS];
    int nblocks;
    int B, T;                        /* --batch and the seq_len key */
    LrSchedule schedule;
    float max_grad_norm;
    int eval_every;
    Rng rng;                         /* (seed, 0): batches and the objective's draws */
    Tape tape;
    size_t arena_bytes;              /* set by the lesson's init: one step's activations */
    Metrics metrics;                 /* loss, parts, lr, extra */
    long step;                       /* optimizer steps done */
    int run;                         /* counts resets: a snapshot's history restarts */
    bool have_forward;               /* loss, parts, extra and attention are of the batch */
    /* set by a loss hook whose returned tensor is not the total it reports: a lesson that
       trains several models side by side differentiates their sum (each model's gradient is
       its own loss's) but reports the loss of the one it exports (kit_report_total) */
    bool total_set;
    float total;
    float loss, parts[KIT_MAX_PARTS], extra[KIT_MAX_EXTRA];
    double refs[KIT_MAX_REFS];       /* reference lines of the curves (unigram entropy, ...) */
    const void *view;                /* the lesson's LessonView in a program with a window */
    bool batch_trained;              /* the current batch was trained on (else only looked at) */
    float diverge_above;             /* a training loss above this is divergence (0: none) */
    KitTrained *trained;             /* the shipped long-trained model (window and PNG only) */
    KitFinding finding;              /* lessons/<name>/finding.csv, read at start (finding.h) */
    /* history (window only: kit_history_on) */
    bool keep_history;
    KitSlot slots[KIT_SLOTS];
    int nslots;
    Rng pending_rng;                 /* the RNG before the current batch was drawn */
    Rng *step_rng;                   /* [step]: the RNG before step+1's batch */
    long step_rng_cap;
    KitSetting *setlog;
    int nset, setcap;
    /* word order: per step and layer of the first model, the largest share of attention any
       head puts on the neighbouring token (the previous or the next one), averaged over the
       batch's queries. Near 1/T while attention is spread out; a head that has discovered
       word order puts most of its attention there. */
    float *order;                    /* rows × order_cols */
    long order_rows, order_cap, order_from;   /* row i is step order_from + i + 1 */
    int order_cols;
    long order_found;                /* the first step a head passed KIT_ORDER_FOUND, or 0 */
    int order_layer, order_head, order_dir;   /* that head, and -1 previous / +1 next */
    float order_share;
};
#define KIT_ORDER_FOUND 0.5f
/* The share of attention head h puts on the previous (dir -1) or next (+1) token, averaged
 * over the B sequences and T-1 queries of one layer's (B, NH, T, T) probabilities. */
float kit_neighbour_share(const float *attn, int B, int NH, int T, int h, int dir);

/* Whether setting `key` is one of the lesson's display keys. */
bool kit_display_key(const Lesson *l, int key);
/* What a head on the neighbouring token means (dir -1 previous, +1 next): "word order", or
 * the lesson's order_next (full) / order_next_mark (mark). */
const char *kit_order_meaning(const Lesson *l, int dir, bool mark);

/* ---- for the lesson's hooks ---- */
#define KIT_SELF(r, Type) ((Type *)(r)->self)
/* The value of a setting by name (the key must exist). */
double kit_value(const Run *r, const char *key);
/* The model of spec i, and the parameter block to declare it into (in init). */
Model *kit_model(Run *r, int i);
ParamBlock *kit_block(Run *r, int i);
/* In the loss hook: the total loss to report (lesson.json, metrics.csv) when the tensor
 * returned is a sum over models trained side by side, of which only one is exported. */
void kit_report_total(Run *r, float total);
/* Keeps a model's attention of this forward for the dashboard and the export. */
void kit_keep_attention(Run *r, int model, int stream, float **attn);
/* Forward passes that record nothing and leave the tape as it was (held-out sets, probes). */
typedef struct KitScope { TapeMark mark; bool no_grad; } KitScope;
KitScope kit_eval_begin(Run *r);
void kit_eval_end(Run *r, KitScope s);
/* The shipped data folder's file `rel` (e.g. "moby_dick/train.txt") into path. */
int kit_data_path(const Run *r, const char *rel, char *path, size_t n);
/* The shipped vocabulary at vocab_size 2000, else one learned from train.txt. */
int kit_load_vocab(Run *r, Vocab *v, int vocab_size);
/* Moby-Dick as most lessons read it: the vocabulary of the vocab_size key (run->vocab is
 * set to it), the training and held-out chapters, checked against seq_len. -1, or an exit
 * status with the message printed. */
int kit_load_moby_dick(Run *r, Vocab *v, Corpus *train, Corpus *eval);
/* For the BERT family (mlm, nsp, ...): BERT's masking from the keys mlm_probability,
 * mask_replace_prob and random_replace_prob (vocab_size is the caller's, once the vocabulary
 * is loaded). -1, or an exit status with the message printed when the two replacement shares
 * add up to more than 1. */
int kit_masking_config(Run *r, MaskingConfig *mc);
/* The same for on_setting: the two replacement shares cannot add up to more than 1, so when
 * `key` raised one of them the other gives way; then *mc is read again (vocab_size kept). */
void kit_masking_set(Run *r, int key, MaskingConfig *mc);
/* A model of `kind` sized by the Hugging Face keys hidden_size, num_hidden_layers,
 * num_attention_heads and intermediate_size, with positions for seq_len (vocab_size is the
 * caller's). -1, or an exit status with the message printed when the heads do not divide
 * hidden_size. */
int kit_model_config(Run *r, ModelKind kind, ModelConfig *cfg);
/* One step's activations of such an encoder on a batch of B × T tokens with its LM head over
 * every token, with room to spare: what r->arena_bytes should hold. */
size_t kit_arena_bytes(const Run *r, const ModelConfig *cfg);
/* The same for one forward and backward on rows × T tokens, without the room to spare: what
 * a lesson adds for held-out forwards larger than a batch. */
size_t kit_forward_bytes(const ModelConfig *cfg, int rows, int T);
/* A batch for next-token prediction (gpt, icl): B rows of T tokens, no padding. Every position
 * predicts the token one place to its right: targets are the ids shifted one place left, -100
 * at the last position. The export's labels are the ids themselves (Hugging Face shifts inside
 * GPT2LMHeadModel). */
typedef struct KitLmBatch {
    int B, T;
    int32_t *ids;                /* (B,T) input_ids, and labels */
    int32_t *targets;            /* (B,T) the next token, -100 at t = T-1 */
    uint8_t *attention_mask;     /* (B,T) all 1 */
} KitLmBatch;
/* -1 when out of memory (free it all the same). */
int kit_lm_batch_alloc(KitLmBatch *b, int B, int T);
void kit_lm_batch_free(KitLmBatch *b);
/* targets from ids, for every row. */
void kit_lm_targets(KitLmBatch *b);
/* Its batch.safetensors: input_ids, labels (= input_ids), attention_mask; the Lesson's `batch`
 * table and what its batch_data hook returns for tensor i. */
extern const KitTensorSpec kit_lm_batch_tensors[3];
const void *kit_lm_batch_data(const KitLmBatch *b, int i);
/* GPT's causal mask for the allowed hook: allow (T,T) = 1 where j <= i. */
void kit_causal_allow(int T, uint8_t *allow);
/* A probe's sentence as the masked-LM lessons read it: "[CLS] text [SEP]" with every "[mask]"
 * typed as [MASK], tokenized with r->vocab and cut to fit seq_len and max ids ([CLS] and [SEP]
 * kept); *cut says whether the end of the text was left out. Returns the ids' length. */
int kit_probe_encode(const Run *r, const char *text, int32_t *ids, int max, bool *cut);
/* The k most probable tokens of one row of logits (softmax over the whole row), largest
 * first, considering ids from `first` on (probes skip the special tokens). */
#define KIT_TOP_K_MAX 32
void kit_top_k(const float *logits, int V, int first, int k, float *p, int32_t *ids);

/* ---- the trainer (kit.c) ---- */
/* Everything up to the first step: settings of --resume, the lesson's init, weights,
 * optimizer, tape, checkpoint. -1 to go on, or an exit status with the message printed. */
int kit_init(Run *r, const Lesson *l, const RunOptions *o);
void kit_free(Run *r);
/* Back to step 0 with this seed: fresh weights, optimizer, data order and history. */
void kit_reset(Run *r, uint64_t seed);
void kit_next_batch(Run *r);
/* Forward and backward on the current batch; with update, clips, steps AdamW and appends
 * the metrics row (evaluating every eval_every steps). Returns the loss; on NaN/Inf in the
 * loss or a gradient sets *diverged, names the step and tensor in what, and makes no update;
 * on NaN/Inf in a weight after the update likewise, and the step is not counted. */
float kit_step(Run *r, bool update, bool *diverged, char *what, size_t whatlen);
/* The held-out columns now (what the kit records every eval_every steps). */
void kit_evaluate(Run *r, float *extra);
int kit_save(Run *r, const char *path, char *err, size_t errlen);
/* A setting changed while the run goes on (clamped to its range, a choice setting cycling
 * round; the lesson's on_setting hook follows; logged for rewinding). */
void kit_set(Run *r, int key, double value);
/* Keeps the history from now on (the window): the state now is the first slot. */
void kit_history_on(Run *r);
/* Back to `step` (<= r->step) exactly, replaying from the nearest kept state; then the batch
 * of that step is on screen again. 0, or -1 with a message (not that far back). */
int kit_rewind(Run *r, long step, char *err, size_t errlen);
/* EXPORT.md from the tables: the caller has drawn batch N+1 and run kit_step(r, false).
 * render draws frame.png (NULL: none). 0, or -1 with a message; nothing is left half-way. */
typedef int (*KitRenderFn)(Run *r, const char *path, char *err, size_t errlen);
int kit_export(Run *r, const char *dir, KitRenderFn render, char *err, size_t errlen);
/* --describe: the lesson's tables as JSON, for the contract tests. */
void kit_describe(const Lesson *l, FILE *f);

/* ---- the program (main.c of each lesson calls lesson_main in view.h) ---- */
typedef struct KitUi {
    int (*window)(Run *r, const void *view);
    KitRenderFn render_png;
    const void *view;
} KitUi;
int kit_main(const Lesson *l, const KitUi *ui, int argc, char **argv);
const char *kit_prog(const Run *r);   /* "fmlab-mlm" */

#endif
