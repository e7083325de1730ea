// Memory bandwidth of one core for the bound of issue 22 (benchmarks/RESULTS.md): a read-modify-write
// stream like the weight update (w, norm read and written) over a working set of the given size.
//   g++ -O3 -march=native -o /tmp/bandwidth benchmarks/bandwidth.cpp && /tmp/bandwidth 4.6 1000
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    for (int a = 1; a < argc; a++) {
        const double mbytes = atof(argv[a]);
        const size_t n = (size_t)(mbytes * 1e6 / 8);   // two float32 arrays of n elements
        std::vector<float> w(n, 1.0f), norm(n, 0.5f);
        const int repeats = (int)(2000 / mbytes) + 3;
        auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < repeats; r++) {
            float* __restrict pw = w.data();
            float* __restrict pn = norm.data();
            for (size_t i = 0; i < n; i++) {
                pn[i] = pn[i] > 0.25f ? pn[i] * 0.999f : 0.25f;
                pw[i] -= 1e-6f * pn[i];
            }
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        // each element: w and norm read and written, 16 bytes
        printf("working set %.1f MB: %.1f GB/s (read + write), %.3f ns per element\n", mbytes,
               16.0 * n * repeats / s / 1e9, s / repeats / n * 1e9);
    }
    return 0;
}
