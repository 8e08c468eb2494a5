#!/usr/bin/env bash
# Train the tiny OpenNMT-py 3.5.1 models under tests/data/onmt/ and record what
# onmt_translate makes of their test lines (greedy with -attn_debug, and beam 5).
#
#   bash benchmarks/setup_opennmt_peer.sh      # once: the OpenNMT-py 3.5.1 venv (torch<2.3)
#   bash scripts/make_onmt_fixture.sh [NAME...]   # all four, or the ones named
#
# The tests (tests/engine/onmt/) compare AttnScope's import of each model with these
# recorded outputs, so they need no OpenNMT-py. Models (see tests/data/onmt/README.md):
#   lstm_brnn_general  LSTM, bidirectional 2-layer encoder, input feeding, general attention
#   gru_mlp_tied       GRU, 1 layer, bridge, standard decoder (no input feed), mlp attention,
#                      output layer tied to the target embedding
#   lstm_dot_shared    LSTM, bidirectional 2 layers, bridge, input feeding, dot attention, one
#                      vocabulary and embedding for both sides
#   gru_general_st     GRU, 1 layer, input feeding, general attention, saved in OpenNMT-py's
#                      safetensors variant (model.pt holds the vocab and options,
#                      model.safetensors the weights). OpenNMT-py 3.5.1 cannot write that
#                      variant for shared embeddings (safetensors refuses shared tensors).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${ATTNSCOPE_PEER_VENV:-$HOME/.cache/attnscope-peer/venv}"
OUT="${ONMT_FIXTURE_OUT:-$HERE/tests/data/onmt}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=1 PATH="$VENV/bin:$PATH"
# OpenNMT-py writes its safetensors variant only with the safetensors package, which the
# peer venv lacks: install it beside the run rather than into the shared venv.
"$VENV/bin/python" -m pip install -q --target "$WORK/site" safetensors
export PYTHONPATH="$WORK/site"

COMMON=(-batch_size 64 -batch_type sents -optim adam -learning_rate 0.005 -dropout 0.1
    -seed 21 -report_every 200 -valid_steps 100000 -world_size 1 -overwrite)

ONLY=("$@")
train() {  # name data-flavour steps extra-options...
    local name=$1 flavour=$2 steps=$3
    shift 3
    if [ ${#ONLY[@]} -gt 0 ] && [[ ! " ${ONLY[*]} " =~ " $name " ]]; then return; fi
    local run="$WORK/$name" data="$WORK/data-$flavour"
    mkdir -p "$run"
    cat >"$run/config.yaml" <<YAML
save_data: $run/run
src_vocab: $run/vocab.src
tgt_vocab: $run/vocab.tgt
overwrite: true
data:
    corpus_1:
        path_src: $data/train.src
        path_tgt: $data/train.tgt
    valid:
        path_src: $data/valid.src
        path_tgt: $data/valid.tgt
YAML
    local share=()
    [ "$flavour" = shared ] && share=(-share_vocab)
    onmt_build_vocab -config "$run/config.yaml" -n_sample -1 "${share[@]}"
    onmt_train -config "$run/config.yaml" -save_model "$run/model" -train_steps "$steps" \
        -save_checkpoint_steps "$steps" "${COMMON[@]}" "${share[@]}" "$@"
    local model="$run/model_step_$steps.pt"
    mkdir -p "$OUT/$name"
    cp "$model" "$OUT/$name/model.pt"
    if [ -f "${model%.pt}.safetensors" ]; then
        cp "${model%.pt}.safetensors" "$OUT/$name/model.safetensors"
        # onmt_train writes NAME.safetensors but onmt_translate 3.5.1 only looks for shards
        # named NAME.*.safetensors: give it the one shard under that name
        ln -s "${model%.pt}.safetensors" "${model%.pt}.0.safetensors"
    fi
    cp "$data/test.src" "$OUT/$name/test.src"
    # Greedy, one sentence a batch, with -attn_debug: OpenNMT-py 3.5.1's -attn_debug fails
    # for RNN models as soon as batch x beam > 1 (IndexError in beam_search.advance: the
    # RNN decoder hands its attention over time-first), so beam 5 is recorded without it.
    onmt_translate -model "$model" -src "$data/test.src" -beam_size 1 \
        -batch_size 1 -attn_debug -output "$OUT/$name/greedy.txt" -log_file "$WORK/$name.log"
    # the log with its time stamps cut: the -attn_debug matrices and the PRED lines
    sed -E 's/^\[[^]]*\] //' "$WORK/$name.log" >"$OUT/$name/greedy_attn.log"
    onmt_translate -model "$model" -src "$data/test.src" -beam_size 5 \
        -output "$OUT/$name/beam5.txt"
}

python3 "$HERE/scripts/make_onmt_fixture_data.py" "$WORK/data-split"
python3 "$HERE/scripts/make_onmt_fixture_data.py" "$WORK/data-shared" --shared

train lstm_brnn_general split 1200 -encoder_type brnn -rnn_type LSTM -layers 2 \
    -word_vec_size 16 -hidden_size 48 -global_attention general -input_feed 1
train gru_mlp_tied split 800 -encoder_type rnn -rnn_type GRU -layers 1 -bridge \
    -word_vec_size 24 -hidden_size 24 -global_attention mlp -input_feed 0 \
    -share_decoder_embeddings
train lstm_dot_shared shared 600 -encoder_type brnn -rnn_type LSTM -layers 2 -bridge \
    -word_vec_size 16 -hidden_size 32 -global_attention dot -input_feed 1 -share_embeddings
train gru_general_st split 500 -encoder_type rnn -rnn_type GRU -layers 1 \
    -word_vec_size 16 -hidden_size 32 -global_attention general -input_feed 1 \
    -save_format safetensors
du -sh "$OUT"
