// Package awsidc is the connector for AWS IAM Identity Center (formerly
// AWS SSO): it assigns permission sets to Identity Center users in one AWS
// account. It speaks the AWS JSON 1.1 protocol of the SSO admin API
// (SWBExternalService) and the identity store API (AWSIdentityStore),
// signing requests with Signature Version 4, implemented here with
// crypto/hmac and checked against the AWS test suite. It uses the standard
// library only.
//
// # Settings
//
//	| key               | required | default                                   | meaning                                                |
//	|-------------------|----------|-------------------------------------------|--------------------------------------------------------|
//	| region            | yes      |                                           | region of the Identity Center instance (us-east-1)     |
//	| instance_arn      | yes      |                                           | arn:aws:sso:::instance/ssoins-...                      |
//	| identity_store_id | yes      |                                           | d-xxxxxxxxxx                                           |
//	| account_id        | yes      |                                           | 12-digit AWS account the assignments are made in       |
//	| access_key_id     | yes      |                                           | access key of an IAM principal (see below)             |
//	| secret_access_key | yes      |                                           | its secret                                             |
//	| session_token     | no       |                                           | for temporary credentials                              |
//	| sso_url           | no       | https://sso.<region>.amazonaws.com        | SSO admin API endpoint                                 |
//	| identitystore_url | no       | https://identitystore.<region>.amazonaws.com | identity store API endpoint                         |
//	| poll_interval     | no       | 2s                                        | wait between status polls                              |
//	| poll_timeout      | no       | 2m                                        | give up waiting (retryable) after this long            |
//	| timeout           | no       | 30s                                       | per-request HTTP timeout                               |
//
// # Operations
//
// Entitlement keys are permission set names ("AdministratorAccess");
// ARNs are accepted too. The person is the identity store user whose
// userName is their email (GetUserId). Grant lists the account's
// assignments of the permission set (nothing to do if the user has it),
// calls CreateAccountAssignment, then polls
// DescribeAccountAssignmentCreationStatus until SUCCEEDED or FAILED.
// Revoke does the same with DeleteAccountAssignment and
// DescribeAccountAssignmentDeletionStatus; an unknown permission set,
// user or assignment is already revoked.
//
// # Errors
//
// ThrottlingException, ConflictException (another operation on the
// assignment is in progress), InternalServerException, 5xx and network
// errors are retryable, as is a request still IN_PROGRESS after
// poll_timeout. AccessDeniedException, ValidationException,
// ResourceNotFoundException, UnrecognizedClientException and
// InvalidSignatureException are permanent. A FAILED request is permanent
// when its FailureReason says something does not exist or is not
// allowed, retryable otherwise.
package awsidc
