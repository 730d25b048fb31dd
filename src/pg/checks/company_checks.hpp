// The company checks (company_checks.cpp) and the settings of companies.
#pragma once

namespace iam::pg {

// iam.invitation_valid_for: how long a company invitation is valid unless
// iam.invite_to_company is told otherwise (read by that SQL function).
void define_company_settings();

}  // namespace iam::pg
