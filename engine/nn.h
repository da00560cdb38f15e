/* nn.h — transformer blocks and the models of the lessons, with Hugging Face's parameter
 * names, tensor layouts, activations, LayerNorm eps and block order:
 *
 *   BertForMaskedLM, BertForPreTraining   post-LN encoder, erf GELU, eps 1e-12, tied decoder
 *   GPT2LMHeadModel                       pre-LN decoder, tanh GELU, eps 1e-5, Conv1D [in,out]
 *   AlbertForPreTraining                  factorized embeddings (E), shared layer groups, SOP
 *   DistilBertForMaskedLM                 no token types, q_lin/k_lin/v_lin/out_lin
 *   ElectraForMaskedLM / ForPreTraining   generator and discriminator sharing embeddings
 *   BertForSequenceClassification         BERT's encoder and pooler, then `classifier` (H -> 2)
 *   FmlabXLNetLMHeadModel                 fmlab's own: BERT's encoder and MLM head under `xlnet.`,
 *                                         no token types, plus XLNet's `mask_emb` (the query
 *                                         stream's learned start); the lesson runs its two streams
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
    MODEL_BERT_SEQ_CLS,    /* BertForSequenceClassification, num_labels 2 (no LM head) */
    MODEL_XLNET,           /* fmlab's two-stream permutation LM (fmlab-xlnet); no Hugging Face class */
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
    int num_hidden_groups;         /* ALBERT: layer groups, each its own weights, shared by
                                      num_hidden_layers / num_hidden_groups consecutive layers
                                      (1: one layer for all; = layers: nothing shared); 1 elsewhere */
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
/* The largest size of any one dimension a config may give (vocabulary, widths, positions),
 * and of the layer count; a weight matrix must also hold at most INT_MAX elements. Far above
 * any model fmlab trains, low enough that every size the engine derives is an int. */
#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 1024
/* NULL if valid, else a sentence naming the bad field. */
const char *model_config_check(const ModelConfig *c);

typedef struct Linear { Tensor *w, *b; bool conv1d; } Linear;   /* nn.Linear [out,in] or Conv1D [in,out] */
typedef struct LayerNorm { Tensor *w, *b; float eps; } LayerNorm;

/* One transformer layer's weights and the two numbers that are not weights. */
typedef struct Block {
    Linear q, k, v, o;             /* separate projections (all but GPT-2) */
    Linear qkv;                    /* GPT-2's c_attn (one Conv1D to 3·C) */
    LayerNorm ln1, ln2;            /* post-LN: after attention, after FFN; pre-LN: before each */
    Linear ffn_in, ffn_out;
    int num_heads;                 /* NH; HS = C / NH */
    Activation act;                /* between ffn_in and ffn_out */
} Block;

typedef struct NamedParam { char *name; Tensor *t; } NamedParam;

typedef struct Model {
    ModelConfig cfg;
    Tensor *word_emb, *pos_emb, *type_emb;
    LayerNorm emb_ln;
    Linear emb_proj;               /* ALBERT embedding_hidden_mapping_in, ELECTRA embeddings_project */
    Block *blocks;                 /* ALBERT: num_hidden_groups blocks, each applied to
                                      num_hidden_layers / num_hidden_groups layers in turn */
    int nblocks;
    LayerNorm ln_f;                /* GPT-2 */
    Linear pooler;                 /* BERT pretraining and sequence classification, ALBERT */
    Linear head_dense;             /* MLM transform / generator_predictions.dense / discriminator dense */
    LayerNorm head_ln;
    Tensor *head_bias;             /* the tied decoder's bias */
    Linear seq_cls;                /* NSP / SOP classifier, BertForSequenceClassification's `classifier` (H -> 2) */
    Linear disc_pred;              /* ELECTRA discriminator dense_prediction (H -> 1) */
    Tensor *mask_emb;              /* XLNet: (1,H) the query stream's learned vector w */
    NamedParam *named;             /* every parameter of this model under its HF name, in order */
    int nnamed;
    bool no_causal_mask;           /* GPT-2 only: every position may attend to later ones too (the
                                      leak fmlab-gpt shows with causal = 0); not in the config */
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

/* Embeddings, then the encoder (post-LN, padding mask) or decoder (pre-LN, causal and
 * padding mask, ln_f) stack, made of the blocks below. out->attn NULL: an array of
 * num_hidden_layers pointers is allocated on the tape's arena; else the caller's array of
 * that length is filled. Each layer's probabilities are kept either way (the tape saves them
 * for backward). */
void model_forward(Model *m, Tape *tp, const Batch *b, Forward *out);
/* MLM / LM logits (rows, V) from hidden rows (rows, H) (all positions or gathered ones).
 * Only for the kinds with an LM head (not the ELECTRA discriminator, not the classifier). */
Tensor *model_lm_logits(Model *m, Tape *tp, Tensor *hidden);
/* tanh(dense(hidden[:, 0])): (B,H) */
Tensor *model_pooled(Model *m, Tape *tp, Tensor *hidden);
/* NSP / SOP / sequence-classification logits (B,2) from the pooled output */
Tensor *model_seq_logits(Model *m, Tape *tp, Tensor *pooled);
/* ELECTRA discriminator: one logit per position, (B,T) */
Tensor *model_disc_logits(Model *m, Tape *tp, Tensor *hidden);

/* ---- blocks: what model_forward is made of, for lessons that build a variant ----
 * Each takes its weights as a struct of tensors (a Model's, or the lesson's own) and
 * returns a tensor on the tape; nothing here knows which model family it is part of.
 *
 *   Embeddings e = model_embeddings(m);              e.g. no absolute positions: e.pos = NULL
 *   Tensor *x = nn_embeddings(tp, &e, &batch);       (B,T,H)
 *   for (int l = 0; l < L; l++)
 *       x = nn_encoder_layer(tp, &m->blocks[l], x, attn_mask_full(perm), &attn[l], NULL); */

Tensor *nn_linear(Tape *tp, const Linear *l, Tensor *x);         /* (...,IN) -> (...,OUT) */
Tensor *nn_layernorm(Tape *tp, const LayerNorm *ln, Tensor *x);  /* over the last dim */
Tensor *nn_activation(Tape *tp, Activation a, Tensor *x);        /* gelu (erf) or gelu_new (tanh) */

/* The embeddings module: word + position + token type, LayerNorm, projection E -> H. */
typedef struct Embeddings {
    Tensor *word;                  /* (V,E) */
    Tensor *pos;                   /* (P,E) learned absolute positions 0..T-1, or NULL: none */
    Tensor *type;                  /* (type_vocab_size,E), or NULL: no token types */
    LayerNorm ln;                  /* ln.w NULL: no LayerNorm (GPT-2) */
    Linear proj;                   /* proj.w NULL: none (ALBERT and ELECTRA project E -> H) */
    int padding_idx;               /* the word row that gets no gradient; -1: none */
} Embeddings;
/* A view of m's embeddings module: the tensors are m's. */
Embeddings model_embeddings(const Model *m);
/* ids (B,T) -> (B,T,E), or (B,T,H) after the projection. b->token_type_ids NULL = all 0;
 * b->attention_mask is not read here (it is the layers' business). */
Tensor *nn_embeddings(Tape *tp, const Embeddings *e, const Batch *b);

/* XLNet's two-stream attention. A second stream g of queries attends to the keys and values
 * of the content stream x (the layer's input), under a mask of its own, through the same
 * weights; it then goes through the rest of the layer (output projection, residual,
 * LayerNorms, FFN) as x does. The content stream is computed exactly as without it. */
typedef struct QueryStream {
    Tensor *g;                     /* in: (B,T,C) the query stream entering the layer */
    AttnMask mask;                 /* in: which keys of x each query of g may see (XLNet: not itself) */
    float *attn;                   /* out: (B,NH,T,T) its attention probabilities, on the arena */
    Tensor *out;                   /* out: (B,T,C) the query stream leaving the layer */
} QueryStream;

/* Post-LN encoder layer (BERT, ALBERT, DistilBERT, ELECTRA), x (B,T,C) -> (B,T,C):
 *   x = LN1(o(attention(q(x), k(x), v(x))) + x);  x = LN2(ffn_out(act(ffn_in(x))) + x)
 * *attn (if attn is not NULL) receives the (B,NH,T,T) probabilities; qs may be NULL. */
Tensor *nn_encoder_layer(Tape *tp, const Block *bl, Tensor *x, AttnMask mask, float **attn, QueryStream *qs);
/* Pre-LN decoder layer (GPT-2), x (B,T,C) -> (B,T,C); q k v from one Conv1D (c_attn):
 *   x = x + o(attention(ln1(x)));  x = x + ffn_out(act(ffn_in(ln2(x))))
 * The mask is the caller's: GPT-2 passes a causal one. attn and qs as above. */
Tensor *nn_decoder_layer(Tape *tp, const Block *bl, Tensor *x, AttnMask mask, float **attn, QueryStream *qs);

/* Freezes every parameter whose Hugging Face name starts with prefix ("bert.": all of the
 * encoder, leaving a classifier to train): requires_grad false, so no op records a gradient
 * for it and the optimizers leave it as it is (params.h). "" freezes everything. */
void model_freeze(Model *m, const char *prefix);
/* Copies into dst the values of every parameter whose Hugging Face name and shape match one
 * of src, as from_pretrained does: a BertForMaskedLM's or BertForPreTraining's `bert.*` into a
 * BertForSequenceClassification, whose parameters without a match (the classifier, and the
 * pooler from a BertForMaskedLM) keep their values. Returns how many were copied, or -1, with
 * nothing copied, when a name matches with another shape (the caller says so). */
int model_copy_matching(Model *dst, const Model *src);
/* Copies the embeddings module and the encoder layers from src into dst, matched by their
 * place in the model rather than by name, between encoders whose Hugging Face base names
 * differ: an ElectraForPreTraining's `electra.embeddings.*` and `electra.encoder.*` into a
 * BertForSequenceClassification's `bert.embeddings.*` and `bert.encoder.*`. The rest of dst
 * (pooler, heads, classifier) keeps its values. Returns how many tensors were copied, or -1,
 * with nothing copied, when the two are not the same encoder: another layer count, heads,
 * activation, LayerNorm eps or shape, a tensor one has and the other has not (token types,
 * ELECTRA's embeddings_project), or a model without such an encoder (GPT-2's decoder,
 * ALBERT's shared layer groups). */
int model_copy_encoder(Model *dst, const Model *src);

/* Parameter counts per group, for the lessons' model card. */
typedef struct ParamCounts { size_t embeddings, attention, feed_forward, layer_norm, heads, total; } ParamCounts;
ParamCounts model_param_counts(const Model *m);

/* <dir>/config.json and <dir>/model.safetensors (vocab.txt is the tokenizer's). The
 * directory must exist. 0, or -1 with a message. */
int model_save(const Model *m, const char *dir, char *err, size_t errlen);
/* Writes a safetensors of this model's gradients under the same names, of the parameters that
 * are trained: a frozen one (requires_grad false) has no gradient and is left out. */
int model_save_grads(const Model *m, const char *path, char *err, size_t errlen);
/* Reads config.json into cfg (which kind it is comes from "architectures"). */
int model_config_load(ModelConfig *cfg, const char *dir, char *err, size_t errlen);
/* Loads model.safetensors into an initialised model with a matching config. */
int model_load_weights(Model *m, const char *dir, char *err, size_t errlen);

#endif
