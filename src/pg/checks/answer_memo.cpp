#include "pg/checks/answer_memo.hpp"

namespace iam::pg {

uint64 memo_seed[4];

void seed_memo_hash() {
    if (!pg_strong_random(memo_seed, sizeof(memo_seed)))
        for (int i = 0; i < 4; ++i)
            memo_seed[i] = (static_cast<uint64>(MyProcPid) + i) * 0x9E3779B97F4A7C15ull ^
                           static_cast<uint64>(GetCurrentTimestamp());
    if (memo_seed[0] == 0 && memo_seed[1] == 0)
        memo_seed[0] = 1;  // zero means "not seeded yet"
}

}  // namespace iam::pg
