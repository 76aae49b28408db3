"""Seeded generators of large, well-formed bank files (benchmarks, differential and fuzz tests).

Each returns the bytes of one file with ``n`` transactions whose balances reconcile, mixing the
dialects a real bank sends (MT940 ``:86:`` free text, ``/CODE/`` and ``?NN``; CAMT batches and
structured remittance). Same ``seed``, same bytes.
"""

from __future__ import annotations

import random


def _amounts(n: int, seed: int) -> list[tuple[int, bool]]:
    rnd = random.Random(seed)
    return [(rnd.randint(100, 5_000_000), rnd.random() < 0.8) for _ in range(n)]


def _wrap(text: str, width: int = 65) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def mt940_file(n: int, *, seed: int = 7) -> bytes:
    out = [":20:GEN", ":25:NL91ABNA0417164300", ":28C:00001/001", ":60F:C260101EUR0,00"]
    balance = 0
    for i, (cents, credit) in enumerate(_amounts(n, seed)):
        mark = "C" if credit else "D"
        balance += cents if credit else -cents
        out.append(f":61:2601150115{mark}{cents // 100},{cents % 100:02d}NTRFNONREF//B{i:012d}")
        kind = i % 3
        if kind == 0:
            details = (
                f"/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO{i:010d}/BIC/RABONL2U/NAME/"
                f"CUSTOMER {i % 997} B.V./REMI/INV-2026-{i:06d}/EREF/E2E-{i}"
            )
        elif kind == 1:
            details = (
                f"166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-{i}?21SVWZ+RE 2026-{i:06d}"
                f"?30COBADEFFXXX?31DE8937040044{i:010d}?32KUNDE {i % 997} GMBH"
            )
        else:
            details = f"PAYMENT FROM CUSTOMER {i % 997} LTD INVOICE INV-2026-{i:06d} THANK YOU"
        out.append(":86:" + _wrap(details))
    mark = "C" if balance >= 0 else "D"
    out.append(f":62F:{mark}260115EUR{abs(balance) // 100},{abs(balance) % 100:02d}")
    return ("\n".join(out) + "\n").encode("ascii")


def camt053_file(n: int, *, seed: int = 7, version: str = "08") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">',
        "<BkToCstmrStmt><GrpHdr><MsgId>GEN</MsgId><CreDtTm>2026-01-15T18:00:00</CreDtTm>"
        "</GrpHdr><Stmt><Id>GEN-STMT</Id><ElctrncSeqNb>1</ElctrncSeqNb>",
        "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>",
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-14</Dt></Dt></Bal>",
    ]
    entries = []
    balance = 0
    for i, (cents, credit) in enumerate(_amounts(n, seed)):
        cdi = "CRDT" if credit else "DBIT"
        balance += cents if credit else -cents
        amt = f"{cents // 100}.{cents % 100:02d}"
        party = "Dbtr" if credit else "Cdtr"
        rmt = (
            f"<Strd><RfrdDocInf><Nb>INV-2026-{i:06d}</Nb></RfrdDocInf><RfrdDocAmt>"
            f'<RmtdAmt Ccy="EUR">{amt}</RmtdAmt></RfrdDocAmt></Strd>'
            if i % 2
            else f"<Ustrd>Rechnung INV-2026-{i:06d}</Ustrd>"
        )
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{amt}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>'
            f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-01-15</Dt></BookgDt>"
            f"<ValDt><Dt>2026-01-15</Dt></ValDt><AcctSvcrRef>REF-{i:09d}</AcctSvcrRef>"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            f"</Domn></BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>E2E-{i}</EndToEndId></Refs>"
            f'<Amt Ccy="EUR">{amt}</Amt><RltdPties><{party}><Pty><Nm>Customer {i % 997} GmbH'
            f"</Nm></Pty></{party}><{party}Acct><Id><IBAN>DE44500105{i:012d}</IBAN></Id>"
            f"</{party}Acct></RltdPties><RmtInf>{rmt}</RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    cdi = "CRDT" if balance >= 0 else "DBIT"
    parts.append(
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">'
        f"{abs(balance) // 100}.{abs(balance) % 100:02d}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>"
        f"<Dt><Dt>2026-01-15</Dt></Dt></Bal>"
    )
    parts.extend(entries)
    parts.append("</Stmt></BkToCstmrStmt></Document>")
    return "\n".join(parts).encode("utf-8")


def ofx_statement(n: int, *, seed: int = 7, sgml: bool = True) -> bytes:
    head = (
        "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII"
        "\r\nCHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
    )
    body = [
        "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STMTRS><CURDEF>USD",
        "<BANKACCTFROM><BANKID>121000248<ACCTID>4417009988<ACCTTYPE>CHECKING</BANKACCTFROM>",
        "<BANKTRANLIST><DTSTART>20260101<DTEND>20260131",
    ]
    balance = 0
    end = "" if sgml else "</{}>"
    for i, (cents, credit) in enumerate(_amounts(n, seed)):
        sign = "" if credit else "-"
        balance += cents if credit else -cents
        body.append(
            f"<STMTTRN><TRNTYPE>{'CREDIT' if credit else 'DEBIT'}{end.format('TRNTYPE')}"
            f"<DTPOSTED>202601{1 + i % 28:02d}{end.format('DTPOSTED')}"
            f"<TRNAMT>{sign}{cents // 100}.{cents % 100:02d}{end.format('TRNAMT')}"
            f"<FITID>F{i:010d}{end.format('FITID')}<NAME>Customer {i % 997} Inc"
            f"{end.format('NAME')}<MEMO>ACH INV-2026-{i:06d}{end.format('MEMO')}</STMTTRN>"
        )
    body.append(
        f"</BANKTRANLIST><LEDGERBAL><BALAMT>{balance / 100:.2f}<DTASOF>20260131"
        "</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )
    return (head + "\r\n".join(body) + "\r\n").encode("ascii")


def bai2_file(n: int, *, seed: int = 7) -> bytes:
    rows = [
        "01,BANKUS33,CASHMATCH,260120,0600,GEN1,80,,2/",
        "02,CASHMATCH,BANKUS33,1,260119,2400,USD,2/",
    ]
    details = []
    credits = debits = 0
    for i, (cents, credit) in enumerate(_amounts(n, seed)):
        code = "195" if credit else "475"
        credits += cents if credit else 0
        debits += 0 if credit else cents
        details.append(
            f"16,{code},{cents},0,BR{i:010d},TRACE{i:08d},"
            f"ACH CREDIT CUSTOMER {i % 997} INV-2026-{i:06d}"
        )
        if i % 5 == 0:
            details.append(f"88,PAYMENT FOR INVOICES INV-2026-{i:06d}")
    closing = credits - debits
    rows.append(f"03,4417009988,USD,010,0,,,015,{closing},,,100,{credits},,,400,{debits},,/")
    rows.extend(details)
    control = closing + credits + debits + credits + debits
    n_records = 1 + len(details) + 1
    rows.append(f"49,{control},{n_records}/")
    rows.append(f"98,{control},1,{n_records + 2}/")
    rows.append(f"99,{control},1,{n_records + 4}/")
    return ("\n".join(rows) + "\n").encode("ascii")


def bank_csv_file(n: int, *, seed: int = 7) -> bytes:
    """A UK "Paid in / Paid out" export (profile ``uk-paid-in-out``); every tenth description
    is quoted over two lines, as some banks write long narratives."""
    rows = ["Date,Type,Description,Paid in,Paid out,Balance"]
    balance = 0
    for i, (pence, credit) in enumerate(_amounts(n, seed)):
        balance += pence if credit else -pence
        money = f'"{pence // 100:,}.{pence % 100:02d}"'
        text = f"CUSTOMER {i % 997} LTD INV-2026-{i:06d}"
        if i % 10 == 0:
            text = f'"{text}\nFASTER PAYMENT"'
        paid_in, paid_out = (money, "") if credit else ("", money)
        rows.append(
            f"{1 + i % 28:02d}/01/2026,{'FPI' if credit else 'DD'},{text},{paid_in},{paid_out},"
            f"{balance / 100:.2f}"
        )
    return ("\n".join(rows) + "\n").encode("ascii")
