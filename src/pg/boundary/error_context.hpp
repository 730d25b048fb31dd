// What a caller sees of where an error happened. The CONTEXT of an error
// lists the statements it went through; the extension's own are its
// business, not the caller's (docs/security.md, "Errors").
#pragma once

namespace iam::pg {

// Installs the filter that drops, from the CONTEXT of every error the
// backend reports, the text of the statements the extension's PL/pgSQL
// functions run (a `SQL statement "..."` entry followed by the frame of a
// function in schema iam). The frame itself stays: the caller still learns
// which function of theirs and of ours it came through. Once per backend.
void install_error_context_filter();

}  // namespace iam::pg
