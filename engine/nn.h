/* nn.h — transformer blocks and the models of the lessons, with Hugging Face's parameter
 * names, tensor layouts, activations, LayerNorm eps and block order:
 *
 *   BertForMaskedLM, BertForPreTraining   post-LN encoder, erf GELU, eps 1e-12, tied decoder
 *   GPT2LMHeadModel                       pre-LN decoder, tanh GELU, eps 1e-5, Conv1D [in,out]
 *   AlbertForPreTraining                  factorized embeddings (E), one shared layer, SOP
 *   DistilBertForMaskedLM                 no token types, q_lin/k_lin/v_lin/out_lin
 *   ElectraForMaskedLM / ForPreTraining   generator and discriminator sharing embeddings
 *
 * A Model declares its parameters into a ParamBlock (which may hold several models: ELECTRA's
 * generator and discriminator live in one) and keeps the list of (Hugging Face name, tensor)
 * pairs that its export writes. Weights tied inside a model (the MLM decoder and the word
 * embeddings) are one tensor, listed once under the embedding's name. Dropout is 0 everywhere.
 *
 * Forward passes take a Batch of plain arrays and return tensors on the step's tape, plus the
 * attention probabilities of every layer for the viz. */
#ifndef FMLAB_ENGINE_NN_H
#define FMLAB_ENGINE_NN_H

#include "ops.h"
#include "params.h"

typedef enum ModelKind {
    MODEL_BERT_MLM,        /* BertForMaskedLM */
    MODEL_BERT_PRETRAIN,   /* BertForPreTraining (MLM + NSP) */
    MODEL_GPT2,            /* GPT2LMHeadModel */
    MODEL_ALBERT,          /* AlbertForPreTraining (MLM + SOP) */
    MODEL_DISTILBERT,      /* DistilBertForMaskedLM */
    MODEL_ELECTRA_GEN,     /* ElectraForMaskedLM */
    MODEL_ELECTRA_DISC,    /* ElectraForPreTraining */
    MODEL_KIND_COUNT
} ModelKind;

typedef enum Activation { ACT_GELU, ACT_GELU_NEW, ACT_COUNT } Activation;

/* The Hugging Face config, under its generic names (config.json uses each class's own:
 * GPT-2's n_embd, DistilBERT's dim, ...). */
typedef struct ModelConfig {
    ModelKind kind;
    int vocab_size;
    int hidden_size;
    int num_hidden_layers;
    int num_attention_heads;
    int intermediate_size;
    int embedding_size;            /* ALBERT and ELECTRA; = hidden_size elsewhere */
    int max_position_embeddings;
    int type_vocab_size;           /* 2; DistilBERT and GPT-2 have no token types */
    int pad_token_id;
    float layer_norm_eps;
    float initializer_range;
    Activation hidden_act;
} ModelConfig;

extern const char *const model_kind_name[MODEL_KIND_COUNT];   /* "BertForMaskedLM", ... */
extern const char *const model_type_name[MODEL_KIND_COUNT];   /* "bert", "gpt2", ... */

/* Hugging Face's defaults for the class, at fmlab's lesson size (vocab 2000, hidden 64,
 * 2 layers, 4 heads, intermediate 256, 512 positions). */
ModelConfig model_config_default(ModelKind kind);
/* NULL if valid, else a sentence naming the bad field. */
const char *model_config_check(const ModelConfig *c);

typedef struct Linear { Tensor *w, *b; bool conv1d; } Linear;   /* nn.Linear [out,in] or Conv1D [in,out] */
typedef struct LayerNorm { Tensor *w, *b; float eps; } LayerNorm;

typedef struct Block {
    Linear q, k, v, o;             /* separate projections (all but GPT-2) */
    Linear qkv;                    /* GPT-2's c_attn (one Conv1D to 3·C) */
    LayerNorm ln1, ln2;            /* post-LN: after attention, after FFN; pre-LN: before each */
    Linear ffn_in, ffn_out;
} Block;

typedef struct NamedParam { char *name; Tensor *t; } NamedParam;

typedef struct Model {
    ModelConfig cfg;
    Tensor *word_emb, *pos_emb, *type_emb;
    LayerNorm emb_ln;
    Linear emb_proj;               /* ALBERT embedding_hidden_mapping_in, ELECTRA embeddings_project */
    Block *blocks;                 /* ALBERT: one block applied num_hidden_layers times */
    int nblocks;
    LayerNorm ln_f;                /* GPT-2 */
    Linear pooler;                 /* BERT pretraining, ALBERT */
    Linear head_dense;             /* MLM transform / generator_predictions.dense / discriminator dense */
    LayerNorm head_ln;
    Tensor *head_bias;             /* the tied decoder's bias */
    Linear seq_cls;                /* NSP / SOP classifier (H -> 2) */
    Linear disc_pred;              /* ELECTRA discriminator dense_prediction (H -> 1) */
    NamedParam *named;             /* every parameter of this model under its HF name, in order */
    int nnamed;
} Model;

/* The inputs of one batch; arrays are borrowed and must outlive backward. */
typedef struct Batch {
    int B, T;
    const int32_t *input_ids;      /* (B,T) */
    const int32_t *token_type_ids; /* (B,T) or NULL = all 0 */
    const uint8_t *attention_mask; /* (B,T) 1 = real token, 0 = padding; NULL = all 1 */
} Batch;

typedef struct Forward {
    Tensor *hidden;                /* (B,T,H) last hidden state (GPT-2: after ln_f) */
    float **attn;                  /* [num_hidden_layers] -> (B,NH,T,T) probabilities, on the tape's arena */
} Forward;

/* Declares the model's parameters into pb, names prefixed with `prefix` inside pb (so two
 * models can share one block; the export uses the names without it). share_embeddings: an
 * ELECTRA discriminator whose embeddings module the generator reuses, or NULL. */
void model_init(Model *m, const ModelConfig *cfg, ParamBlock *pb, const char *prefix,
                const Model *share_embeddings);
void model_free(Model *m);
/* After params_finalize: normal(0, initializer_range) weights, zero biases, LayerNorm 1,
 * the padding row of the word embeddings 0, GPT-2's residual projections scaled by
 * 1/√(2·layers), all as Hugging Face's _init_weights does. */
void model_init_weights(Model *m, Rng *r);

/* Encoder or decoder stack. attn may be NULL (the probabilities are then not kept). */
void model_forward(Model *m, Tape *tp, const Batch *b, Forward *out);
/* MLM / LM logits (rows, V) from hidden rows (rows, H) (all positions or gathered ones). */
Tensor *model_lm_logits(Model *m, Tape *tp, Tensor *hidden);
/* tanh(dense(hidden[:, 0])): (B,H) */
Tensor *model_pooled(Model *m, Tape *tp, Tensor *hidden);
/* NSP / SOP logits (B,2) from the pooled output */
Tensor *model_seq_logits(Model *m, Tape *tp, Tensor *pooled);
/* ELECTRA discriminator: one logit per position, (B,T) */
Tensor *model_disc_logits(Model *m, Tape *tp, Tensor *hidden);

/* Parameter counts per group, for the lessons' model card. */
typedef struct ParamCounts { size_t embeddings, attention, feed_forward, layer_norm, heads, total; } ParamCounts;
ParamCounts model_param_counts(const Model *m);

/* <dir>/config.json and <dir>/model.safetensors (vocab.txt is the tokenizer's). The
 * directory must exist. 0, or -1 with a message. */
int model_save(const Model *m, const char *dir, char *err, size_t errlen);
/* Writes a safetensors of this model's gradients under the same names. */
int model_save_grads(const Model *m, const char *path, char *err, size_t errlen);
/* Reads config.json into cfg (which kind it is comes from "architectures"). */
int model_config_load(ModelConfig *cfg, const char *dir, char *err, size_t errlen);
/* Loads model.safetensors into an initialised model with a matching config. */
int model_load_weights(Model *m, const char *dir, char *err, size_t errlen);

#endif
