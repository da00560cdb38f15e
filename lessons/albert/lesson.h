/* lesson.h — fmlab-albert's state, shared by its objective (albert.c), its panels (panels.c)
 * and its tests. */
#ifndef FMLAB_ALBERT_LESSON_H
#define FMLAB_ALBERT_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"
#include "lessons/common/pairs.h"

extern const Lesson albert_lesson;

/* the two models, trained side by side on the same batches; ALBERT is the one exported */
enum { AL_ALBERT = 0, AL_BERT = 1, AL_MODELS };

/* the lesson's extra metrics.csv columns (after loss, mlm, sop, lr): BERT's two losses on the
 * batch, then each model's accuracies, then the held-out figures (ALBERT's first) */
enum { AL_BERT_MLM, AL_BERT_SOP, AL_SOP_ACCURACY, AL_BERT_SOP_ACCURACY, AL_MLM_ACCURACY, AL_BERT_MLM_ACCURACY,
       AL_EVAL_MLM_LOSS, AL_EVAL_BERT_MLM_LOSS, AL_EVAL_SOP_ACCURACY, AL_EVAL_BERT_SOP_ACCURACY,
       AL_EVAL_MLM_ACCURACY, AL_EVAL_BERT_MLM_ACCURACY, AL_NEXTRA };
/* the curves' reference lines (run->refs) */
enum { REF_UNIGRAM_ENTROPY, REF_CHANCE_LOSS, REF_CHANCE_ACCURACY };

#define AL_EVAL_BATCHES 8    /* held-out SOP batches: 256 pairs at the default batch */

/* Where a model's parameters are, by Hugging Face's module structure. "embeddings" is the
 * embeddings module (word V×E, positions P×E, token types 2×E, LayerNorm 2E); "projection"
 * ALBERT's embedding_hidden_mapping_in (E×H + H; BERT has none); "layers" the encoder's
 * attention and feed-forward weights as stored (ALBERT: once per layer group); "heads" the
 * pooler, the MLM head (without the tied decoder, which is the word embeddings) and the pair
 * classifier. */
enum { PG_EMBEDDINGS, PG_PROJECTION, PG_LAYERS, PG_HEADS, PG_COUNT };
typedef struct AlbertCount {
    int64_t group[PG_COUNT];
    int64_t total;              /* the sum of the groups: every parameter once */
    int64_t base;               /* AlbertModel / BertModel: all but the MLM head and classifier */
    int64_t word;               /* the word embeddings alone: V×E */
    int64_t layer;              /* one encoder layer */
    int stored, applied;        /* layers stored (groups) and applied (num_hidden_layers) */
} AlbertCount;

/* From a live model: every tensor of its named parameters once, by name. */
void albert_count_model(const Model *m, AlbertCount *c);
/* The same from the formulas alone (no model built): BertForPreTraining or
 * AlbertForPreTraining of cfg. The tests hold the two equal. */
void albert_count_formula(const ModelConfig *cfg, AlbertCount *c);
/* The configurations the panel and the notes quote: BERT-base (109,482,240 in BertModel) and
 * ALBERT-base (11,683,584 in AlbertModel), as Hugging Face builds them. */
ModelConfig albert_paper_config(ModelKind kind);

typedef struct Albert {
    MaskingConfig mask;
    Vocab vocab;
    Corpus train, eval;
    KitPairBatch batch;
    KitPairBatch eval_batches[AL_EVAL_BATCHES];
    float *p_in_order[AL_MODELS];   /* (B) P(in order) of each model's SOP head on the batch */
    AlbertCount count[AL_MODELS];   /* of the live models, at init */
    double forward_ms[AL_MODELS];   /* each model's forward on a training batch, smoothed
                                       (the backward takes about twice as long); 0 for the
                                       first forwards, which warm the caches up */
    int forwards;
} Albert;

#endif
