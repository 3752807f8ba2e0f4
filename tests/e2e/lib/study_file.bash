# tiny_study_file FILE OUT DATA: the suite's scaling study (tests/e2e/study.sh and
# study_slurm.sh): 3 sizes (7k, 21k, 34k parameters) x ALiBi and sinusoidal, 100k tokens per
# run at T=32, evaluated non-overlapping at 1x, 2x and 4x; periodic checkpoints, so a run
# stopped mid-way resumes.
tiny_study_file() {
  cat >"$1" <<INI
[study]
name = tiny
out = $2
tokens = 100000
eval-lengths = 64, 128
eval-modes = nonoverlapping
[base]
data = $3
seq-len = 32
micro-batch = 8
heads = 2
lr = 3e-3
warmup = 10
eval-every = 100
eval-batches = 4
save-every = 25
keep = 2
log-every = 100
[axes]
position = alibi, sinusoidal
[size.s]
layers = 1
channels = 16
[size.m]
layers = 2
channels = 24
[size.l]
layers = 2
channels = 32
INI
}
