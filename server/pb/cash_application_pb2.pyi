from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "customer_id", "customer_name", "amount", "currency", "issue_date", "due_date", "po_number", "discount_pct", "discount_days", "closed")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_PCT_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_DAYS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    customer_id: str
    customer_name: str
    amount: str
    currency: str
    issue_date: str
    due_date: str
    po_number: str
    discount_pct: str
    discount_days: int
    closed: bool
    def __init__(self, invoice_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., customer_name: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., issue_date: _Optional[str] = ..., due_date: _Optional[str] = ..., po_number: _Optional[str] = ..., discount_pct: _Optional[str] = ..., discount_days: _Optional[int] = ..., closed: _Optional[bool] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("customer_id", "name", "accounts", "aliases", "parent_id")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    accounts: _containers.RepeatedScalarFieldContainer[str]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    parent_id: str
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., accounts: _Optional[_Iterable[str]] = ..., aliases: _Optional[_Iterable[str]] = ..., parent_id: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("payment_id", "value_date", "amount", "currency", "payer_name", "payer_account", "reference", "end_to_end_id", "direction", "bank_code", "statement_id")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    PAYER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    END_TO_END_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    BANK_CODE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    value_date: str
    amount: str
    currency: str
    payer_name: str
    payer_account: str
    reference: str
    end_to_end_id: str
    direction: str
    bank_code: str
    statement_id: str
    def __init__(self, payment_id: _Optional[str] = ..., value_date: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., payer_name: _Optional[str] = ..., payer_account: _Optional[str] = ..., reference: _Optional[str] = ..., end_to_end_id: _Optional[str] = ..., direction: _Optional[str] = ..., bank_code: _Optional[str] = ..., statement_id: _Optional[str] = ...) -> None: ...

class RemittanceLine(_message.Message):
    __slots__ = ("payment_id", "end_to_end_id", "invoice_ref", "paid_amount", "discount_amount", "deduction_amount", "reason_code", "currency")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    END_TO_END_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_REF_FIELD_NUMBER: _ClassVar[int]
    PAID_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DEDUCTION_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    end_to_end_id: str
    invoice_ref: str
    paid_amount: str
    discount_amount: str
    deduction_amount: str
    reason_code: str
    currency: str
    def __init__(self, payment_id: _Optional[str] = ..., end_to_end_id: _Optional[str] = ..., invoice_ref: _Optional[str] = ..., paid_amount: _Optional[str] = ..., discount_amount: _Optional[str] = ..., deduction_amount: _Optional[str] = ..., reason_code: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class Allocation(_message.Message):
    __slots__ = ("payment_id", "invoice_id", "applied_amount", "adjustment_amount", "adjustment_reason", "invoice_open_after", "confidence", "rule", "currency", "created_by", "created_at")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_REASON_FIELD_NUMBER: _ClassVar[int]
    INVOICE_OPEN_AFTER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    invoice_id: str
    applied_amount: str
    adjustment_amount: str
    adjustment_reason: str
    invoice_open_after: str
    confidence: float
    rule: str
    currency: str
    created_by: str
    created_at: str
    def __init__(self, payment_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., applied_amount: _Optional[str] = ..., adjustment_amount: _Optional[str] = ..., adjustment_reason: _Optional[str] = ..., invoice_open_after: _Optional[str] = ..., confidence: _Optional[float] = ..., rule: _Optional[str] = ..., currency: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class PaymentException(_message.Message):
    __slots__ = ("payment_id", "reason", "unapplied_amount", "candidates", "detail", "currency", "candidate_scores", "customer_id", "status", "created_at", "resolved_by", "resolved_at", "resolution", "note", "value_date", "payer_name", "payer_account", "reference", "payment_amount")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNAPPLIED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_SCORES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    PAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    PAYER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    reason: str
    unapplied_amount: str
    candidates: _containers.RepeatedScalarFieldContainer[str]
    detail: str
    currency: str
    candidate_scores: _containers.RepeatedScalarFieldContainer[float]
    customer_id: str
    status: str
    created_at: str
    resolved_by: str
    resolved_at: str
    resolution: str
    note: str
    value_date: str
    payer_name: str
    payer_account: str
    reference: str
    payment_amount: str
    def __init__(self, payment_id: _Optional[str] = ..., reason: _Optional[str] = ..., unapplied_amount: _Optional[str] = ..., candidates: _Optional[_Iterable[str]] = ..., detail: _Optional[str] = ..., currency: _Optional[str] = ..., candidate_scores: _Optional[_Iterable[float]] = ..., customer_id: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolved_at: _Optional[str] = ..., resolution: _Optional[str] = ..., note: _Optional[str] = ..., value_date: _Optional[str] = ..., payer_name: _Optional[str] = ..., payer_account: _Optional[str] = ..., reference: _Optional[str] = ..., payment_amount: _Optional[str] = ...) -> None: ...

class CurrencyAmount(_message.Message):
    __slots__ = ("currency", "amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount: str
    def __init__(self, currency: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("payments", "auto_applied", "auto_applied_pct", "exceptions_by_reason", "received", "applied", "unapplied")
    class ExceptionsByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPLIED_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPLIED_PCT_FIELD_NUMBER: _ClassVar[int]
    EXCEPTIONS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    UNAPPLIED_FIELD_NUMBER: _ClassVar[int]
    payments: int
    auto_applied: int
    auto_applied_pct: float
    exceptions_by_reason: _containers.ScalarMap[str, int]
    received: _containers.RepeatedCompositeFieldContainer[CurrencyAmount]
    applied: _containers.RepeatedCompositeFieldContainer[CurrencyAmount]
    unapplied: _containers.RepeatedCompositeFieldContainer[CurrencyAmount]
    def __init__(self, payments: _Optional[int] = ..., auto_applied: _Optional[int] = ..., auto_applied_pct: _Optional[float] = ..., exceptions_by_reason: _Optional[_Mapping[str, int]] = ..., received: _Optional[_Iterable[_Union[CurrencyAmount, _Mapping]]] = ..., applied: _Optional[_Iterable[_Union[CurrencyAmount, _Mapping]]] = ..., unapplied: _Optional[_Iterable[_Union[CurrencyAmount, _Mapping]]] = ...) -> None: ...

class Problem(_message.Message):
    __slots__ = ("source", "line", "column", "reason")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    source: str
    line: int
    column: str
    reason: str
    def __init__(self, source: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("auto_apply_threshold", "fuzzy_reference_cutoff", "payer_name_cutoff", "bank_fee_max", "discount_grace_days", "allow_discounts", "max_subset_size", "subset_time_limit_s", "max_days_before_issue", "auto_apply_rules")
    class BankFeeMaxEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AUTO_APPLY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FUZZY_REFERENCE_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    PAYER_NAME_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    BANK_FEE_MAX_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_GRACE_DAYS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBSET_SIZE_FIELD_NUMBER: _ClassVar[int]
    SUBSET_TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_DAYS_BEFORE_ISSUE_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPLY_RULES_FIELD_NUMBER: _ClassVar[int]
    auto_apply_threshold: float
    fuzzy_reference_cutoff: float
    payer_name_cutoff: float
    bank_fee_max: _containers.ScalarMap[str, str]
    discount_grace_days: int
    allow_discounts: bool
    max_subset_size: int
    subset_time_limit_s: float
    max_days_before_issue: int
    auto_apply_rules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, auto_apply_threshold: _Optional[float] = ..., fuzzy_reference_cutoff: _Optional[float] = ..., payer_name_cutoff: _Optional[float] = ..., bank_fee_max: _Optional[_Mapping[str, str]] = ..., discount_grace_days: _Optional[int] = ..., allow_discounts: _Optional[bool] = ..., max_subset_size: _Optional[int] = ..., subset_time_limit_s: _Optional[float] = ..., max_days_before_issue: _Optional[int] = ..., auto_apply_rules: _Optional[_Iterable[str]] = ...) -> None: ...

class MatchRequest(_message.Message):
    __slots__ = ("invoices", "payments", "remittances", "customers", "policy", "use_ledger")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    REMITTANCES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    USE_LEDGER_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    remittances: _containers.RepeatedCompositeFieldContainer[RemittanceLine]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    policy: Policy
    use_ledger: bool
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., remittances: _Optional[_Iterable[_Union[RemittanceLine, _Mapping]]] = ..., customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., use_ledger: _Optional[bool] = ...) -> None: ...

class MatchResponse(_message.Message):
    __slots__ = ("allocations", "exceptions", "summary")
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    exceptions: _containers.RepeatedCompositeFieldContainer[PaymentException]
    summary: Summary
    def __init__(self, allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., exceptions: _Optional[_Iterable[_Union[PaymentException, _Mapping]]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class UpsertInvoicesRequest(_message.Message):
    __slots__ = ("invoices",)
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ...) -> None: ...

class UpsertInvoicesResponse(_message.Message):
    __slots__ = ("upserted",)
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...

class UpsertCustomersRequest(_message.Message):
    __slots__ = ("customers",)
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ...) -> None: ...

class UpsertCustomersResponse(_message.Message):
    __slots__ = ("upserted",)
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...

class SubmitStatementRequest(_message.Message):
    __slots__ = ("content", "filename", "format", "idempotency_key", "strict", "summary_only")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    filename: str
    format: str
    idempotency_key: str
    strict: bool
    summary_only: bool
    def __init__(self, content: _Optional[bytes] = ..., filename: _Optional[str] = ..., format: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., strict: _Optional[bool] = ..., summary_only: _Optional[bool] = ...) -> None: ...

class PaymentStatus(_message.Message):
    __slots__ = ("payment_id", "status", "amount", "currency", "value_date", "payer_name", "first_statement_id")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    PAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    FIRST_STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    status: str
    amount: str
    currency: str
    value_date: str
    payer_name: str
    first_statement_id: str
    def __init__(self, payment_id: _Optional[str] = ..., status: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., value_date: _Optional[str] = ..., payer_name: _Optional[str] = ..., first_statement_id: _Optional[str] = ...) -> None: ...

class SubmitStatementResponse(_message.Message):
    __slots__ = ("statement_id", "payments", "summary", "allocations", "exceptions", "duplicate", "problems", "received_at", "format")
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    statement_id: str
    payments: _containers.RepeatedCompositeFieldContainer[PaymentStatus]
    summary: Summary
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    exceptions: _containers.RepeatedCompositeFieldContainer[PaymentException]
    duplicate: bool
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    received_at: str
    format: str
    def __init__(self, statement_id: _Optional[str] = ..., payments: _Optional[_Iterable[_Union[PaymentStatus, _Mapping]]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., exceptions: _Optional[_Iterable[_Union[PaymentException, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., received_at: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class SubmitRemittanceRequest(_message.Message):
    __slots__ = ("content", "filename", "format", "idempotency_key", "strict", "summary_only")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    filename: str
    format: str
    idempotency_key: str
    strict: bool
    summary_only: bool
    def __init__(self, content: _Optional[bytes] = ..., filename: _Optional[str] = ..., format: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., strict: _Optional[bool] = ..., summary_only: _Optional[bool] = ...) -> None: ...

class SubmitRemittanceResponse(_message.Message):
    __slots__ = ("statement_id", "payments", "summary", "allocations", "exceptions", "duplicate", "problems", "received_at", "format")
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    statement_id: str
    payments: _containers.RepeatedCompositeFieldContainer[PaymentStatus]
    summary: Summary
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    exceptions: _containers.RepeatedCompositeFieldContainer[PaymentException]
    duplicate: bool
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    received_at: str
    format: str
    def __init__(self, statement_id: _Optional[str] = ..., payments: _Optional[_Iterable[_Union[PaymentStatus, _Mapping]]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., exceptions: _Optional[_Iterable[_Union[PaymentException, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., received_at: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class ListExceptionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "reason", "customer_id", "currency", "min_amount", "max_amount", "older_than_days", "sort", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MIN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OLDER_THAN_DAYS_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    reason: str
    customer_id: str
    currency: str
    min_amount: str
    max_amount: str
    older_than_days: int
    sort: str
    status: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., reason: _Optional[str] = ..., customer_id: _Optional[str] = ..., currency: _Optional[str] = ..., min_amount: _Optional[str] = ..., max_amount: _Optional[str] = ..., older_than_days: _Optional[int] = ..., sort: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListExceptionsResponse(_message.Message):
    __slots__ = ("exceptions", "next_page_token", "total", "counts_by_reason")
    class CountsByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COUNTS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    exceptions: _containers.RepeatedCompositeFieldContainer[PaymentException]
    next_page_token: str
    total: int
    counts_by_reason: _containers.ScalarMap[str, int]
    def __init__(self, exceptions: _Optional[_Iterable[_Union[PaymentException, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ..., counts_by_reason: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AllocationInput(_message.Message):
    __slots__ = ("invoice_id", "applied_amount", "adjustment_amount", "adjustment_reason")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_REASON_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    applied_amount: str
    adjustment_amount: str
    adjustment_reason: str
    def __init__(self, invoice_id: _Optional[str] = ..., applied_amount: _Optional[str] = ..., adjustment_amount: _Optional[str] = ..., adjustment_reason: _Optional[str] = ...) -> None: ...

class ResolveExceptionRequest(_message.Message):
    __slots__ = ("payment_id", "action", "allocations", "customer_id", "reviewer", "note", "remember")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[ResolveExceptionRequest.Action]
        APPLY: _ClassVar[ResolveExceptionRequest.Action]
        ON_ACCOUNT: _ClassVar[ResolveExceptionRequest.Action]
        REFUND: _ClassVar[ResolveExceptionRequest.Action]
        WRITE_OFF: _ClassVar[ResolveExceptionRequest.Action]
    ACTION_UNSPECIFIED: ResolveExceptionRequest.Action
    APPLY: ResolveExceptionRequest.Action
    ON_ACCOUNT: ResolveExceptionRequest.Action
    REFUND: ResolveExceptionRequest.Action
    WRITE_OFF: ResolveExceptionRequest.Action
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REMEMBER_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    action: ResolveExceptionRequest.Action
    allocations: _containers.RepeatedCompositeFieldContainer[AllocationInput]
    customer_id: str
    reviewer: str
    note: str
    remember: bool
    def __init__(self, payment_id: _Optional[str] = ..., action: _Optional[_Union[ResolveExceptionRequest.Action, str]] = ..., allocations: _Optional[_Iterable[_Union[AllocationInput, _Mapping]]] = ..., customer_id: _Optional[str] = ..., reviewer: _Optional[str] = ..., note: _Optional[str] = ..., remember: _Optional[bool] = ...) -> None: ...

class ResolveExceptionResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: PaymentDetail
    def __init__(self, payment: _Optional[_Union[PaymentDetail, _Mapping]] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("payment_id",)
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("seq", "at", "actor", "action", "entity", "entity_id", "detail_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    detail_json: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[str] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., entity: _Optional[str] = ..., entity_id: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...

class PaymentDetail(_message.Message):
    __slots__ = ("payment", "status", "allocations", "exception", "remittances", "audit", "unapplied_amount", "customer_id")
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    REMITTANCES_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    UNAPPLIED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    status: str
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    exception: PaymentException
    remittances: _containers.RepeatedCompositeFieldContainer[RemittanceLine]
    audit: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    unapplied_amount: str
    customer_id: str
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ..., status: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., exception: _Optional[_Union[PaymentException, _Mapping]] = ..., remittances: _Optional[_Iterable[_Union[RemittanceLine, _Mapping]]] = ..., audit: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., unapplied_amount: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class GetReceivablesRequest(_message.Message):
    __slots__ = ("as_of", "period_days", "top_at_risk")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    TOP_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    period_days: int
    top_at_risk: int
    def __init__(self, as_of: _Optional[str] = ..., period_days: _Optional[int] = ..., top_at_risk: _Optional[int] = ...) -> None: ...

class ReceivablesMetrics(_message.Message):
    __slots__ = ("currency", "ar", "current_ar", "sales", "dso", "best_possible_dso", "add", "cei", "turnover", "bad_debt_ratio", "overdue", "ar_start", "write_offs")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AR_FIELD_NUMBER: _ClassVar[int]
    CURRENT_AR_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    DSO_FIELD_NUMBER: _ClassVar[int]
    BEST_POSSIBLE_DSO_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    CEI_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    BAD_DEBT_RATIO_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    AR_START_FIELD_NUMBER: _ClassVar[int]
    WRITE_OFFS_FIELD_NUMBER: _ClassVar[int]
    currency: str
    ar: str
    current_ar: str
    sales: str
    dso: str
    best_possible_dso: str
    add: str
    cei: str
    turnover: str
    bad_debt_ratio: str
    overdue: str
    ar_start: str
    write_offs: str
    def __init__(self, currency: _Optional[str] = ..., ar: _Optional[str] = ..., current_ar: _Optional[str] = ..., sales: _Optional[str] = ..., dso: _Optional[str] = ..., best_possible_dso: _Optional[str] = ..., add: _Optional[str] = ..., cei: _Optional[str] = ..., turnover: _Optional[str] = ..., bad_debt_ratio: _Optional[str] = ..., overdue: _Optional[str] = ..., ar_start: _Optional[str] = ..., write_offs: _Optional[str] = ...) -> None: ...

class AgingTotals(_message.Message):
    __slots__ = ("currency", "current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus", "total", "accounts")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    DAYS_1_30_FIELD_NUMBER: _ClassVar[int]
    DAYS_31_60_FIELD_NUMBER: _ClassVar[int]
    DAYS_61_90_FIELD_NUMBER: _ClassVar[int]
    DAYS_90_PLUS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    currency: str
    current: str
    days_1_30: str
    days_31_60: str
    days_61_90: str
    days_90_plus: str
    total: str
    accounts: int
    def __init__(self, currency: _Optional[str] = ..., current: _Optional[str] = ..., days_1_30: _Optional[str] = ..., days_31_60: _Optional[str] = ..., days_61_90: _Optional[str] = ..., days_90_plus: _Optional[str] = ..., total: _Optional[str] = ..., accounts: _Optional[int] = ...) -> None: ...

class DeductionsByReason(_message.Message):
    __slots__ = ("currency", "reason", "count", "amount", "prev_count", "prev_amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PREV_COUNT_FIELD_NUMBER: _ClassVar[int]
    PREV_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    reason: str
    count: int
    amount: str
    prev_count: int
    prev_amount: str
    def __init__(self, currency: _Optional[str] = ..., reason: _Optional[str] = ..., count: _Optional[int] = ..., amount: _Optional[str] = ..., prev_count: _Optional[int] = ..., prev_amount: _Optional[str] = ...) -> None: ...

class GetReceivablesResponse(_message.Message):
    __slots__ = ("as_of", "period_days", "metrics", "aging", "deductions", "accounts", "accounts_at_risk", "problems", "top_at_risk")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    AGING_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    TOP_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    period_days: int
    metrics: _containers.RepeatedCompositeFieldContainer[ReceivablesMetrics]
    aging: _containers.RepeatedCompositeFieldContainer[AgingTotals]
    deductions: _containers.RepeatedCompositeFieldContainer[DeductionsByReason]
    accounts: int
    accounts_at_risk: int
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    top_at_risk: _containers.RepeatedCompositeFieldContainer[AccountBehaviour]
    def __init__(self, as_of: _Optional[str] = ..., period_days: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[ReceivablesMetrics, _Mapping]]] = ..., aging: _Optional[_Iterable[_Union[AgingTotals, _Mapping]]] = ..., deductions: _Optional[_Iterable[_Union[DeductionsByReason, _Mapping]]] = ..., accounts: _Optional[int] = ..., accounts_at_risk: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., top_at_risk: _Optional[_Iterable[_Union[AccountBehaviour, _Mapping]]] = ...) -> None: ...

class RecordPromiseRequest(_message.Message):
    __slots__ = ("customer_id", "invoice_id", "amount", "currency", "promised_date", "made_on", "recorded_by", "note", "idempotency_key")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PROMISED_DATE_FIELD_NUMBER: _ClassVar[int]
    MADE_ON_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    invoice_id: str
    amount: str
    currency: str
    promised_date: str
    made_on: str
    recorded_by: str
    note: str
    idempotency_key: str
    def __init__(self, customer_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., promised_date: _Optional[str] = ..., made_on: _Optional[str] = ..., recorded_by: _Optional[str] = ..., note: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Promise(_message.Message):
    __slots__ = ("promise_id", "customer_id", "invoice_id", "amount", "currency", "promised_date", "made_on", "recorded_by", "created_at", "note", "status")
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PROMISED_DATE_FIELD_NUMBER: _ClassVar[int]
    MADE_ON_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    promise_id: int
    customer_id: str
    invoice_id: str
    amount: str
    currency: str
    promised_date: str
    made_on: str
    recorded_by: str
    created_at: str
    note: str
    status: str
    def __init__(self, promise_id: _Optional[int] = ..., customer_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., promised_date: _Optional[str] = ..., made_on: _Optional[str] = ..., recorded_by: _Optional[str] = ..., created_at: _Optional[str] = ..., note: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("customer_id", "as_of", "period_days")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    as_of: str
    period_days: int
    def __init__(self, customer_id: _Optional[str] = ..., as_of: _Optional[str] = ..., period_days: _Optional[int] = ...) -> None: ...

class OpenItem(_message.Message):
    __slots__ = ("invoice_id", "currency", "amount", "open_amount", "issue_date", "due_date", "age_days", "days_past_due", "bucket")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    currency: str
    amount: str
    open_amount: str
    issue_date: str
    due_date: str
    age_days: int
    days_past_due: int
    bucket: str
    def __init__(self, invoice_id: _Optional[str] = ..., currency: _Optional[str] = ..., amount: _Optional[str] = ..., open_amount: _Optional[str] = ..., issue_date: _Optional[str] = ..., due_date: _Optional[str] = ..., age_days: _Optional[int] = ..., days_past_due: _Optional[int] = ..., bucket: _Optional[str] = ...) -> None: ...

class AccountBehaviour(_message.Message):
    __slots__ = ("currency", "open_amount", "overdue_amount", "over_60_amount", "avg_days_to_pay", "prev_avg_days_to_pay", "avg_days_beyond_terms", "prev_avg_days_beyond_terms", "deductions", "deduction_amount", "prev_deductions", "promises_kept", "promises_broken", "risk_score", "at_risk", "risk_reasons", "aging", "customer_id", "customer_name")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    OPEN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OVER_60_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_DAYS_TO_PAY_FIELD_NUMBER: _ClassVar[int]
    PREV_AVG_DAYS_TO_PAY_FIELD_NUMBER: _ClassVar[int]
    AVG_DAYS_BEYOND_TERMS_FIELD_NUMBER: _ClassVar[int]
    PREV_AVG_DAYS_BEYOND_TERMS_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FIELD_NUMBER: _ClassVar[int]
    DEDUCTION_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PREV_DEDUCTIONS_FIELD_NUMBER: _ClassVar[int]
    PROMISES_KEPT_FIELD_NUMBER: _ClassVar[int]
    PROMISES_BROKEN_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_FIELD_NUMBER: _ClassVar[int]
    RISK_REASONS_FIELD_NUMBER: _ClassVar[int]
    AGING_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NAME_FIELD_NUMBER: _ClassVar[int]
    currency: str
    open_amount: str
    overdue_amount: str
    over_60_amount: str
    avg_days_to_pay: str
    prev_avg_days_to_pay: str
    avg_days_beyond_terms: str
    prev_avg_days_beyond_terms: str
    deductions: int
    deduction_amount: str
    prev_deductions: int
    promises_kept: int
    promises_broken: int
    risk_score: int
    at_risk: bool
    risk_reasons: _containers.RepeatedScalarFieldContainer[str]
    aging: AgingTotals
    customer_id: str
    customer_name: str
    def __init__(self, currency: _Optional[str] = ..., open_amount: _Optional[str] = ..., overdue_amount: _Optional[str] = ..., over_60_amount: _Optional[str] = ..., avg_days_to_pay: _Optional[str] = ..., prev_avg_days_to_pay: _Optional[str] = ..., avg_days_beyond_terms: _Optional[str] = ..., prev_avg_days_beyond_terms: _Optional[str] = ..., deductions: _Optional[int] = ..., deduction_amount: _Optional[str] = ..., prev_deductions: _Optional[int] = ..., promises_kept: _Optional[int] = ..., promises_broken: _Optional[int] = ..., risk_score: _Optional[int] = ..., at_risk: _Optional[bool] = ..., risk_reasons: _Optional[_Iterable[str]] = ..., aging: _Optional[_Union[AgingTotals, _Mapping]] = ..., customer_id: _Optional[str] = ..., customer_name: _Optional[str] = ...) -> None: ...

class AccountStatus(_message.Message):
    __slots__ = ("customer_id", "customer_name", "as_of", "period_days", "accounts", "open_items", "open_exceptions", "open_exceptions_total", "risk_score", "at_risk", "undated_items", "problems", "promises")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ITEMS_FIELD_NUMBER: _ClassVar[int]
    OPEN_EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_EXCEPTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_FIELD_NUMBER: _ClassVar[int]
    UNDATED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    PROMISES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_name: str
    as_of: str
    period_days: int
    accounts: _containers.RepeatedCompositeFieldContainer[AccountBehaviour]
    open_items: _containers.RepeatedCompositeFieldContainer[OpenItem]
    open_exceptions: _containers.RepeatedCompositeFieldContainer[PaymentException]
    open_exceptions_total: int
    risk_score: int
    at_risk: bool
    undated_items: _containers.RepeatedCompositeFieldContainer[OpenItem]
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    promises: _containers.RepeatedCompositeFieldContainer[Promise]
    def __init__(self, customer_id: _Optional[str] = ..., customer_name: _Optional[str] = ..., as_of: _Optional[str] = ..., period_days: _Optional[int] = ..., accounts: _Optional[_Iterable[_Union[AccountBehaviour, _Mapping]]] = ..., open_items: _Optional[_Iterable[_Union[OpenItem, _Mapping]]] = ..., open_exceptions: _Optional[_Iterable[_Union[PaymentException, _Mapping]]] = ..., open_exceptions_total: _Optional[int] = ..., risk_score: _Optional[int] = ..., at_risk: _Optional[bool] = ..., undated_items: _Optional[_Iterable[_Union[OpenItem, _Mapping]]] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., promises: _Optional[_Iterable[_Union[Promise, _Mapping]]] = ...) -> None: ...
