// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
//
// A pepper version never changes once written, so the table's peppers are
// kept in backend memory for as long as the table is the same one (its oid:
// a dropped and re-created extension starts over); a version not seen yet is
// read when a stored hash names it. The highest version is read again for
// every key created, so a rotation takes effect at once. A pepper file is
// read once per transaction, so an edited file takes effect at the next one,
// and wiped from memory at its end.
#include "pg/api_keys/peppers.hpp"

#include "pg/platform/spi.hpp"
#include "pg/platform/statement.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/tables/iam_tables.hpp"
#include "pg/tables/pepper_rows.hpp"

#include <sodium.h>

#include <cstdio>
#include <limits>

namespace iam::pg {
namespace {

constexpr int max_cached = 8;
static_assert(sizeof(Pepper) == pepper_bytes, "a pepper is the table's 32 bytes");

char* pepper_file = nullptr;

struct CachedPepper {
    int version;
    Pepper pepper;
};

// The peppers read from the table `table`, or from the file in `transaction`.
struct PepperCache {
    Oid table;
    LocalTransactionId transaction;
    bool file_loaded;
    int count;
    CachedPepper entries[max_cached];
} cache;

void forget_peppers() {
    sodium_memzero(&cache, sizeof(cache));
}

bool using_file();

// A file's peppers go at the end of every transaction; the table's after an
// abort, which may have rolled back a version this backend generated.
void on_transaction_end(XactEvent event, void*) {
    bool aborted = event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT;
    bool ended = aborted || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
                 event == XACT_EVENT_PREPARE;
    if (aborted || (ended && cache.file_loaded))
        forget_peppers();
}

// The same for a subtransaction (a savepoint, a PL/pgSQL exception block):
// a version inserted in it is gone from the table once it aborts, but would
// stay in memory, and remember() would keep those bytes when the version is
// inserted again with others: keys made afterwards in this backend would be
// hashed with a pepper no other backend can read.
void on_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        forget_peppers();
}

// Starts over when the source changed: another table, or a new transaction
// for a file (or a switch between the two).
void start_cache() {
    if (using_file()) {
        if (cache.table != InvalidOid || cache.transaction != local_transaction_id()) {
            forget_peppers();
            cache.transaction = local_transaction_id();
        }
        return;
    }
    IamTables tables;
    resolve_iam_tables(&tables);
    if (cache.file_loaded || cache.table != tables.api_key_peppers) {
        forget_peppers();
        cache.table = tables.api_key_peppers;
    }
}

void remember(int version, const unsigned char* bytes) {
    for (int i = 0; i < cache.count; ++i)
        if (cache.entries[i].version == version)
            return;
    if (cache.count == max_cached) {  // keep the newest: they are what keys use
        memmove(&cache.entries[0], &cache.entries[1], sizeof(CachedPepper) * (max_cached - 1));
        --cache.count;
    }
    cache.entries[cache.count].version = version;
    memcpy(cache.entries[cache.count].pepper.data(), bytes, sizeof(Pepper));
    ++cache.count;
}

const CachedPepper* cached(int version) {
    for (int i = 0; i < cache.count; ++i)
        if (cache.entries[i].version == version)
            return &cache.entries[i];
    return nullptr;
}

bool using_file() {
    return pepper_file != nullptr && pepper_file[0] != '\0';
}

// The file: one pepper per line, "<version> <64 hex digits>"; '#' comments.
void load_file() {
    if (cache.file_loaded)
        return;
    FILE* file = AllocateFile(pepper_file, "r");
    if (file == nullptr)
        ereport(ERROR, (errcode_for_file_access(),
                        errmsg("could not open iam.pepper_file \"%s\": %m", pepper_file)));
    char line[256];
    int line_number = 0;
    while (fgets(line, sizeof(line), file) != nullptr) {
        ++line_number;
        char* text = line;
        while (*text == ' ' || *text == '\t')
            ++text;
        if (*text == '#' || *text == '\n' || *text == '\0')
            continue;
        int version = 0;
        char hex[65];
        unsigned char bytes[sizeof(Pepper)];
        size_t decoded = 0;
        if (sscanf(text, "%d %64s", &version, hex) != 2 || version <= 0 ||
            sodium_hex2bin(bytes, sizeof(bytes), hex, strlen(hex), nullptr, &decoded, nullptr) !=
                0 ||
            decoded != sizeof(bytes) || strlen(hex) != 2 * sizeof(bytes)) {
            sodium_memzero(line, sizeof(line));
            sodium_memzero(hex, sizeof(hex));
            FreeFile(file);
            ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                            errmsg("iam.pepper_file \"%s\", line %d: expected \"<version> <64 "
                                   "hex digits>\"",
                                   pepper_file, line_number)));
        }
        remember(version, bytes);
        sodium_memzero(bytes, sizeof(bytes));
        sodium_memzero(hex, sizeof(hex));
    }
    sodium_memzero(line, sizeof(line));
    FreeFile(file);
    cache.file_loaded = true;
}

// Reads the table row of `version` (0: the highest) with `snapshot` into
// the cache.
bool read_table(int version, Snapshot snapshot) {
    IamTables tables;
    resolve_iam_tables(&tables);
    PepperRow row;
    bool found = find_pepper_row(tables, version, snapshot, &row);
    if (found)
        remember(row.version, row.pepper);
    sodium_memzero(&row, sizeof(row));
    return found;
}

int highest_cached_version() {
    int highest = 0;
    for (int i = 0; i < cache.count; ++i)
        highest = std::max(highest, cache.entries[i].version);
    return highest;
}

// Inserts `version` with fresh random bytes, as the table's owner; true if
// this call inserted it (false: another session did first).
bool insert_pepper(int version) {
    unsigned char bytes[sizeof(Pepper)];
    randombytes_buf(bytes, sizeof(bytes));
    bytea* value = static_cast<bytea*>(palloc(VARHDRSZ + sizeof(bytes)));
    SET_VARSIZE(value, VARHDRSZ + sizeof(bytes));
    memcpy(VARDATA(value), bytes, sizeof(bytes));
    Oid types[2] = {INT4OID, BYTEAOID};
    Datum values[2] = {Int32GetDatum(version), PointerGetDatum(value)};
    uint64 inserted = execute_as_owner(
        iam_tables().api_key_peppers,
        "INSERT INTO iam.api_key_peppers (version, pepper) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        2, types, values, nullptr);
    if (inserted == 1)
        remember(version, bytes);
    sodium_memzero(bytes, sizeof(bytes));
    sodium_memzero(VARDATA(value), sizeof(bytes));
    pfree(value);
    return inserted == 1;
}

}  // namespace

bool find_pepper(int version, Pepper* pepper) {
    start_cache();
    if (using_file())
        load_file();
    else if (cached(version) == nullptr)
        read_table(version, statement_snapshot());
    const CachedPepper* entry = cached(version);
    if (entry != nullptr)
        *pepper = entry->pepper;
    return entry != nullptr;
}

int current_pepper(Pepper* pepper) {
    start_cache();
    if (using_file()) {
        load_file();
        if (cache.count == 0)
            ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                            errmsg("iam.pepper_file \"%s\" holds no pepper", pepper_file)));
    } else if (!read_table(0, statement_snapshot())) {
        // The first key of this database: make version 1, or take the one a
        // concurrent first key made (ON CONFLICT waited for it to commit).
        if (!insert_pepper(1) && !read_table(0, GetLatestSnapshot()))
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("iam_ext could not read or create its first pepper")));
    }
    int version = highest_cached_version();
    *pepper = cached(version)->pepper;
    return version;
}

int rotate_pepper() {
    if (using_file())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the peppers come from iam.pepper_file \"%s\"", pepper_file),
                        errhint("Add a line with the next version to the file instead.")));
    start_cache();
    Pepper current;
    int highest = current_pepper(&current);
    sodium_memzero(current.data(), current.size());
    if (highest == std::numeric_limits<int>::max())
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("the pepper version cannot go beyond %d", highest)));
    int version = highest + 1;
    if (!insert_pepper(version))
        ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                        errmsg("pepper version %d was created concurrently", version)));
    return version;
}

void define_pepper_settings() {
    DefineCustomStringVariable(
        "iam.pepper_file", "File holding the API-key peppers (\"<version> <64 hex digits>\" lines)",
        "When set, iam_ext reads the peppers from this file instead of iam.api_key_peppers.",
        &pepper_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
    RegisterXactCallback(on_transaction_end, nullptr);
    RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

}  // namespace iam::pg

// iam.rotate_api_key_pepper() -> integer
IAM_SQL_FUNCTION(iam_rotate_api_key_pepper) {
    PG_RETURN_INT32(iam::pg::rotate_pepper());
}
