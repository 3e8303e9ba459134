"""What an EMMN job at ImageNet scale may add to resident memory (make bench, and the slow test
tests/methods/test_scale_memory.py): its stored noise, 16 images for each of 1000 classes at
32 × 32 float32, plus one chunk's working set."""

NOISE_BYTES_MB = 16 * 1000 * 3 * 32 * 32 * 4 / 2**20
ONE_CHUNK_MB = 400  # 256 noise images through mini_rn with input gradients, Adam state, allocator slack
