package rules

// The single-sign-in diagnosis: scenario → recognition → precedence.
//
// Each sign-in gets at most one diagnosis: the sign-in rules below are tried
// in this order and the first that matches wins (NewEngine explains the
// places the backbone precedence of docs/scenarios.md leaves open). The
// windowed detections (excessive_failures_48h, mfa_fatigue, password_spray)
// are not the Engine's: each is a Detection registered by its own file
// (window_rules.go, fatigue.go, spray.go; the shape is in detection.go),
// and pipeline/incident turns them into incidents.
// "CA block" below means error 53003 or 530032, or a failure whose failing
// policy's grant control is Block; "failing policy" means an applied policy
// with result failure. Codes are matched case-insensitively on open enums.
//
//	 #  scenario                           recognised from (docs/scenarios.md row)
//	 1  blocked_by_risk_policy             (16) 53011, 530034, 50135; or a CA block / a failure whose failing
//	                                       policy matched on signInRisk, userRisk, servicePrincipalRisk or
//	                                       insiderRisk (conditionsSatisfied or includeRulesSatisfied); or a CA
//	                                       block with no readable policy details and risk ≥ medium, riskState
//	                                       atRisk/confirmedCompromised
//	 2  legacy_authentication              (15) a CA block from a legacy clientAppUsed whose failing Block policy
//	                                       matched on clientType
//	 3  b2b_blocked_by_conditional_access  (4) userType guest, crossTenantAccessType b2bCollaboration /
//	                                       b2bDirectConnect / serviceProvider, or homeTenantId ≠ resourceTenantId;
//	                                       and a CA block or a CA grant failure (row 5); or 500212 / 500213
//	 4  blocked_by_conditional_access      (1) any other CA block
//	 5  failed_conditional_access          (2) 53000, 53001, 53002, 530021, 530003, 50005, 50131, 50129; or
//	                                       50155 / 50187 / 135011 / 50097 with a failing device policy
//	                                       (RequireCompliantDevice, RequireDomainJoinedDevice) or, except 50097,
//	                                       conditionalAccessStatus failure with a non-MFA grant; or any failure
//	                                       with conditionalAccessStatus failure and a failing policy whose grant
//	                                       is not Block/MFA (MFA codes excluded: rows 10–12)
//	 6  security_defaults                  (13) 530035 (legacy client or not); 50079/50072 with requirement
//	                                       provider mfaRegistrationRequiredBySecurityDefaults
//	 7  legacy_authentication              (15) 50074/50076/50078/50079/50072 from a legacy client (it can
//	                                       never do MFA); a success with a basic-auth ROPC user agent (BAV2ROPC,
//	                                       CBAinPROD, CBAinTAR), or ROPC + legacy client + single factor
//	 8  mfa_proofup_risky_location         (7) 53010, 53004; or 50079/50072 with risk ≥ low
//	 9  mfa_proofup_required               (6) 50079, 50072
//	10  mfa_denied                         (20) 500121 (sub-reason from additionalDetails or the failed
//	                                       authenticationDetails step: fraud, declined, no response, wrong
//	                                       code, blocked, no methods, phone), 50158 (external MFA)
//	11  mfa_from_conditional_access        (3) 50074/50076/50078 whose requirementProvider is
//	                                       multiConditionalAccess, v1ConditionalAccess*, authenticationStrengths;
//	                                       or, with no provider recorded, an applied policy requiring MFA / an
//	                                       authentication strength, an authenticationStepRequirement naming
//	                                       Conditional Access, or conditionalAccessStatus failure plus MFA evidence
//	12  mfa_from_other_requirements        (5) 50074/50076/50078 whose provider is user (per-user MFA),
//	                                       securityDefaults, request, riskBasedPolicy, tenantSessionRiskPolicy,
//	                                       accountCompromisePolicies, baselineProtection, enforcedForCspAdmins, …;
//	                                       or no provider, conditionalAccessStatus notApplied and MFA evidence.
//	                                       A bare 50074 that says nothing of its source gets no finding.
//	13  account_locked                     (9) 50053 (malicious-IP variant told apart by failureReason)
//	14  invalid_credentials                (10) 50126, 50056, 50064, 50034
//	15  app_service_provider               (11) 75005, 750054, 75011, 75008, 75016, 76021, 76026, 7500514, any
//	                                       code of catalogue category "app configuration (SP)", 65005 over SAML
//	16  app_configuration                  (12) 50105, 50011, 50003, 50146, 501241, 700016, 70001, 7000112,
//	                                       500011, 65001, 90094, 65005 (not SAML), 650056, 650057, 50001, 650052
//	17  pass_through_authentication        (17) 80001, 80002, 80005, 80007, 80010, 80011, 80012, 80013, 80014
//	                                       (service-kind codes too: the agents need fixing), catalogue category
//	                                       "other (PTA)"
//	18  seamless_sso                       (18) 81001, 81004, 81005, 81006, 81007, 81009, 81010, 81011, 50180
//	                                       (81012 is benign: no finding)
//	19  error_code_insight                 (14) any other failure (catalogue IsFailure, unknown codes
//	                                       included); any non-zero code of a flagged sign-in
//	20  successful_signin                  (8) errorCode 0 and informative only: risk ≥ RiskySuccessLevel
//	                                       not dismissed/remediated, or an at-risk user signing in with a
//	                                       single factor (non-interactive sign-ins: their own sign-in risk
//	                                       only); on a single-factor sign-in no policy applied to, a
//	                                       report-only policy that would have failed/interrupted it, or an MFA /
//	                                       Block policy it escaped through a non-location exclusion; a
//	                                       password-only ROPC success from a modern client; a flagged success.
//	                                       A plain success gets no finding.
//
// Interrupts (catalogue kind I) are not failures and never count in the
// window; the ones the diagnostic explains are the MFA prompt (rows 7, 11,
// 12), registration (6–9) and device authentication under a device policy
// (5). 50140, 50125, 50199, 70046, 50173, 90095 and a 50097 without a device
// policy are expected steps: no finding unless the sign-in is flagged.
//
// Decisions worth knowing:
//   - 50155 / 50097 without Conditional Access (status notApplied, no failing
//     device policy) are not failed_conditional_access: no grant control was
//     involved; the device's own authentication failed (50155 → error code
//     insight with the re-register advice) or is the normal first leg of
//     device authentication (50097 → nothing).
//   - Client-credential errors of workloads (7000215, 7000222, 7000218,
//     700027, 70002) are error_code_insight, not app_configuration: they are
//     the client's own secret or certificate, not the enterprise app's
//     configuration in Entra (docs/scenarios.md row 12: assignment, SSO/SAML settings,
//     certificates, reply URLs and consent).
//   - 53003 from a legacy client is legacy_authentication only when the
//     blocking policy matched on clientType; 530035 from a legacy client is
//     security_defaults (the precedence puts security defaults first,
//     and its advice covers the legacy client).
//   - 50074 with requirement provider securityDefaults is
//     mfa_from_other_requirements (docs/scenarios.md row 5 lists it), whereas
//     registration required by security defaults is security_defaults (row 13).
