"""Whether a text tries to instruct the model that reads it, rather than inform it.

Memories are read back into a model that can run commands, so content planted to steer it — an
override of its instructions, a claimed authority, a command that fetches and runs code, sends
secrets away, weakens the machine's defences or installs a squatted package — must be told from
the project's own conventions, which use the same words ("ignore E501 in generated code",
"enable Developer mode in chrome://extensions", "curl localhost:8000/health", "rm -rf build/").

Detection is layered:

1. **Normalisation**: NFKC (full-width letters, ligatures), invisible characters removed (zero
   width, soft hyphen, word joiner, bidirectional controls, control characters), letters that
   look Latin folded to Latin (Cyrillic `і`, `а`, Greek `ο`, `Ι` …), letters spelt out one by
   one joined ("i g n o r e"), every run of whitespace and newlines made one space.
2. **Rules by category**, on the normalised text: each asks what the text wants the reader to
   *do*. Overrides are read in English and eleven other languages; rules about weakening
   commands and sending data away are not counted when the sentence forbids what they name
   ("never push with --no-verify"). HTML comments, which a person reading the file does not
   see, are held to a stricter rule: any address to an assistant in one is suspicious.
3. **Packages**: installs of a name one edit away from a much used package (`packages.py`).

No classifier is used: no package ships a prompt-injection model with its weights (those that
exist fetch them from a model hub at first use), and nothing here may download at run time.
`bench/bench_injection.py` measures the rules per category on a labelled set and a held-out set.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from habitus.core.trust.packages import squats

__all__ = ["Finding", "CATEGORIES", "normalise", "findings"]

MAX_CHARS = 20_000

# Letters of other scripts drawn like Latin ones, folded before the English rules.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ԛ": "q",
    "ԝ": "w", "һ": "h", "ӏ": "l", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})
_SPACED = re.compile(r"\b(?:[A-Za-z] ){3,}[A-Za-z]\b")
_SPACE = re.compile(r"\s+")


def _visible(text: str) -> str:
    """NFKC, invisible characters out, whitespace joined: the text in its own scripts."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS])
    text = "".join(ch for ch in text
                   if unicodedata.category(ch) not in ("Cf", "Cc") or ch in "\n\r\t\v\f")
    return _SPACE.sub(" ", text)


def normalise(text: str) -> str:
    """`text` as the rules read it: NFKC, invisible characters out, look-alike letters folded
    to Latin, spelt-out letters joined, whitespace joined."""
    folded = _visible(text).translate(_LOOKALIKES)
    return _SPACED.sub(lambda m: m.group().replace(" ", ""), folded)


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


# What the assistant is told to set aside, and what addresses it.
_QUALIFIED = (r"(?:previous|prior|above|earlier|preceding|original|initial|existing|system|your"
              r"|all(?:\s+(?:of\s+)?(?:the|your))?|any|the\s+user'?s|these|those|other|old)")
_ORDERS = (r"(?:instructions?|prompts?|rules|guidelines|guidance|directions|directives?"
           r"|guardrails|orders|constraints|restrictions|policies|safety\s+\w+)")
_SET_ASIDE = (r"(?:ignore|ignoring|disregard|forget|override|bypass|set\s+aside"
              r"|pay\s+no\s+attention\s+to|(?:do\s+not|don'?t|stop|no\s+longer)\s+(?:follow|obey|listen\s+to)(?:ing)?"
              r"|drop|abandon|discard)")
_READER = (r"(?:ai|llms?|(?:language\s+)?models?|claude|copilot|cursor|gpt|chatgpt|gemini"
           r"|codex|assistants?|agents?|bots?)")
_PEOPLE = (r"(?:the\s+)?(?:user|human|developer|maintainer|reviewer|owner|team|anyone|them)s?\b")
_FILES = r"(?:claude\.md|agents\.md|gemini\.md|\.cursorrules|copilot-instructions|\.cursor/rules)"
_SECRET_FILE = (r"(?:(?<![\w.])\.env\b(?!\.(?:example|sample|template|dist))|\.ssh\b|id_rsa"
                r"|id_ed25519|id_ecdsa|\.aws\b|\.kube/config|kubeconfig|\.npmrc|\.pypirc|\.netrc"
                r"|\.gnupg|\.git-credentials|\.docker/config\.json|/etc/shadow"
                r"|credentials(?:\.json)?\b)")
_SECRET = (rf"(?:{_SECRET_FILE}|\.env\s+files?|env(?:ironment)?\s+(?:variables|vars)"
           r"|(?:ssh\s+|gpg\s+)?private\s+keys?|ssh\s+keys?|api[\s_-]?keys?"
           r"|\b\w*_(?:token|key|secret|password|pat)s?\b|\$\{?\w*(?:token|key|secret|password)\w*"
           r"|\btokens?\b|\bsecrets?\b|\bpasswords?\b|\bpassphrases?\b|keystores?|signing\s+keys?"
           r"|(?:output\s+of\s+)?`?(?:printenv|env)`?(?=\s+(?:to|into|in)\b)|session\s+(?:tokens?"
           r"|cookies?)|\bcookies?\b)")
_SEND = (r"(?:send|post|upload|e-?mail|mail|forward|share|paste|copy|put|include|add|append"
         r"|mirror|sync|leak|exfiltrate|transmit|publish|write|dump|report|attach|embed)\w*")
_DEST = (r"(?:https?://|s3://|gs://|\S+@\S+\.\w+|webhook|paste\s?bin|gist|public\b|readme"
         r"|commit\s+messages?|pull\s+requests?|pr\s+(?:description|body)|issues?\b|comments?\b"
         r"|(?:bug\s+)?reports?\b|answers?\b|repl(?:y|ies)\b|responses?\b|chat\b|channel\b"
         r"|slack\b|discord\b|telegram\b|logs?\b|address\b|tickets?\b|drive\b|dropbox\b|links?\b"
         r"|wiki\b|shared\b|servers?\b|hosts?\b|buckets?\b|job\s+summary|\S+:/)")
_DOWNLOAD = r"(?:curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)"
_SHELL = r"(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|k|fi|da|c)?sh\b"
_PLACEHOLDER = r"(?:\{[^}]*\}|\$\{?\w+|<[^>]+>|\b[A-Z]{2,}_[A-Z_]{2,}\b|\bPASTE\b|\bSECRET\b)"
_DATA = (r"(?:contents?|secrets?|keys?|tokens?|passwords?|credentials|conversation|output|env\b"
         r"|session|history|private)")
_BLOB = (r"(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*\d)"
         r"[A-Za-z0-9+/]{20,}={0,2}")
# Words before a rule's match in its sentence that forbid what it names.
_FORBIDS = re.compile(
    r"\b(?:never|not|don'?t|doesn'?t|avoid|no\s+one|nobody|without|instead\s+of|rather\s+than"
    r"|forbidden|prohibited|refuse|mustn'?t|shouldn'?t|can'?t|cannot|stop|warn(?:s|ing)?"
    r"|dangerous|unsafe|blocks?|rejects?)\b", re.I)


@dataclass(frozen=True)
class _Rule:
    category: str
    reason: str
    pattern: re.Pattern[str]
    forbiddable: bool = False  # not counted in a sentence that forbids it
    scripts: bool = False  # read in the text's own scripts (no folding to Latin)


CATEGORIES: dict[str, str] = {
    "override": "tries to override the model's instructions",
    "override_multilingual": "tries to override the model's instructions",
    "role": "claims a role to command the model",
    "authority": "claims an authority to grant the model permissions",
    "concealment": "asks to hide what it does from the user",
    "fetch_run": "fetches code from the network and runs it",
    "secret_exfil": "asks to send secrets away",
    "markdown_exfil": "puts data into a link or image address",
    "encoded": "asks to decode and run a payload",
    "weakening": "weakens the machine's or the repository's defences",
    "typosquat": "installs a package whose name imitates a much used one",
    "ci_secrets": "edits CI to expose its secrets",
    "html_comment": "hides instructions to an assistant in an HTML comment",
    "destroy": "asks to destroy data",
}

_RULES: tuple[_Rule, ...] = (
    _Rule("override", CATEGORIES["override"], _rx(
        rf"\b{_SET_ASIDE}\b.{{0,40}}?\b{_QUALIFIED}\s+(?:[\w-]+\s+){{0,2}}?{_ORDERS}\b",
        rf"\b(?:ignore|disregard|forget|override|bypass|(?:do\s+not|don'?t)\s+(?:follow|read))"
        rf"\b.{{0,40}}?{_FILES}",
        r"\b(?:ignore|disregard|forget|treat)\s+(?:everything|anything|all|whatever)\s+(?:(?:that\s+)?"
        r"you(?:'ve|\s+have|\s+were)?\s+(?:been\s+)?(?:told|given|read)|(?:written\s+)?above"
        r"|before|(?:the\s+)?user\s+(?:says|said|tells|told|asks|asked|wants))",
        r"\b(?:ignore|disregard|(?:do\s+not|don'?t)\s+listen\s+to)\s+(?:what|whatever)\s+"
        r"(?:the\s+user|they|you(?:'ve|\s+have|\s+were)?)\b",
        rf"\b(?:your|the\s+user'?s|(?:the|all|any)\s+(?:previous|prior|earlier|original|initial"
        rf"|above|existing|system))\s+(?:safety\s+)?{_ORDERS}\s+(?:(?:are|is|were|have\s+been)\s+"
        r"(?:now\s+)?(?:suspended|void|null|obsolete|outdated|cancell?ed|revoked|lifted|disabled"
        r"|overridden|superseded|invalid|replaced|lifted)|(?:no\s+longer|do\s+not|don'?t)\s+apply)",
        rf"\b{_SET_ASIDE}\b.{{0,20}}?\b(?:the|any|all)\s+{_ORDERS}\s+(?:that\s+)?you(?:'ve|\s+have"
        r"|\s+were)?\s+(?:been\s+)?(?:given|told|received|got)\b",
        r"\beverything\s+above\s+(?:this\s+line\s+)?(?:is|as)\s+(?:obsolete|void|outdated)",
        rf"\b{_QUALIFIED}\s+(?:[\w-]+\s+){{0,2}}?{_ORDERS}\b(?!\s+(?:about|for|on|regarding|in|of)\b)"
        r".{0,80}?\b(?:(?:are|is|were|be|been)\s+"
        r"(?:now\s+)?(?:superseded|discarded|ignored|void|overridden|cancell?ed|revoked|suspended)"
        r"|(?:do\s+not|don'?t|no\s+longer)\s+apply)\b",
        rf"\b(?:whatever|anything)\s+(?:your|the)\s+{_ORDERS}\s+says?\b",
        r"\b(?:superseded|replaced|overridden)\s+by\s+this\s+(?:entry|memory|note|message)\b",
        r"\b(?:do\s+not|don'?t|never)\s+refuse\b",
        r"\bthe\s+real\s+instructions\b|\bnew\s+directives\b",
        r"\b(?:obey|take\s+(?:\w+\s+)?orders\s+from)\s+(?:only\s+)?(?:this|these|the\s+(?:notes?|"
        r"memory|following)|me\b|my\b|us\b|our\b)",
        r"\b(?:follow|listen\s+to)\s+(?:only\s+)?(?:this|these|the\s+notes?\s+in\s+this)\s+"
        r"(?:memory|memories|note|notes|message)\b(?:\s+only)?",
        r"\b(?:follow|obey|do)\s+only\s+(?:the\s+\w+\s+in\s+|what\s+)?(?:this|these)\s+(?:memory"
        r"|note|notes|message)\b",
        r"\b(?:this|the\s+following)\s+(?:memory|note|message|text)\s+(?:takes|has)\s+"
        r"(?:precedence|priority)\b|\bthis\s+(?:memory|note)\s+is\s+your\s+new\b",
        r"\byour\s+new\s+(?:system\s+prompt|instructions|rules|directives|orders|role)\b",
        r"\bfrom\s+(?:now\s+on|this\s+point\s+on)\b.{0,40}?\b(?:only|obey|orders|this\s+memory"
        r"|this\s+note)\b",
        r"\b(?:drop|abandon|abort)\s+(?:what\s+you(?:'re|\s+are)\s+doing|your\s+(?:current\s+)?"
        r"task)\b",
        r"\bwhen(?:ever)?\s+you\s+(?:read|see|load|process)\s+this\b",
    )),
    _Rule("override_multilingual", CATEGORIES["override_multilingual"], _rx(
        # French, German, Spanish, Portuguese, Italian, Dutch, Polish (verb, then the orders).
        r"\b(?:ignore[zs]?|oublie[zs]?|ne\s+tiens?\s+pas\s+compte|ne\s+tenez\s+pas\s+compte"
        r"|fais\s+abstraction)\b.{0,40}?\b(?:instructions?|consignes?|r[èe]gles|directives?"
        r"|prompt)\b",
        r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen\s+sie|missachte[nt]?)\b.{0,40}?"
        r"(?:anweisungen|anweisung|regeln|vorgaben|instruktionen|befehle|anordnungen|prompt)",
        r"\b(?:ignora[dr]?|ignore|ignoren|olvida[dr]?|olvide|olv[ií]date|no\s+hagas\s+caso|haz\s+caso\s+omiso"
        r"|esque[çc]a|desconsidere|ignorate|dimentica(?:te)?|negeer|vergeet|zignoruj|ignoruj"
        r"|zapomnij)\b.{0,40}?\b(?:instrucciones|reglas|indicaciones|directrices|[oó]rdenes"
        r"|instru[çc][õo]es|regras|diretrizes|ordens|istruzioni|regole|indicazioni|direttive"
        r"|instructies|regels|aanwijzingen|opdrachten|polecenia|instrukcje|zasady|regu[łl]y)\b",
        # Russian (verb first), Chinese (verb first), Japanese, Korean, Turkish (orders first).
        r"(?:игнорируй|игнорируйте|(?<!не\s)забудь|(?<!не\s)забудьте|не\s+обращай|не\s+обращайте)"
        r"\w*.{0,40}?"
        r"(?:инструкци|правил|указани|промпт|команд)",
        r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|不要遵守|不要遵循).{0,20}?(?:指令|指示|提示|规则|命令|说明)",
        r"(?:指示|命令|ルール|規則|プロンプト|指令).{0,20}?(?:無視|忘れ)",
        r"(?:지시|명령|규칙|지침|프롬프트).{0,20}?(?:무시|잊)",
        r"\b(?:talimatlar\w*|kurallar\w*|komutlar\w*)\b.{0,40}?(?:yok\s+say|unut|g[öo]rmezden)",
    ), scripts=True),
    _Rule("role", CATEGORIES["role"], _rx(
        r"(?:^|[.!?]\s+)\s*(?:system|assistant)\s*(?:prompt)?\s*:\s*\S",
        r"\byou\s+are\s+now\s+(?:an?\s+)?(?:dan|unrestricted|unfiltered|uncensored|jailbroken"
        r"|free|no\s+longer|root|admin|in\s+(?:developer|god|dan|jailbreak)\s+mode)\b",
        r"\b(?:act|behave|respond)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored"
        r"|jailbroken)\b",
        r"\b(?:god|jailbreak|dan)\s+mode\b|\byou\s+are\s+(?:now\s+)?in\s+developer\s+mode\b",
        r"<\|im_start\|>|\[/?INST\]|<\|system\|>|<<SYS>>",
        r"\bnever\s+refuse\b|\bfree\s+of\s+all\s+restrictions\b|\bno\s+(?:restrictions|limits)"
        r"\s+apply\b",
        rf"\bif\s+you\s+are\s+(?:an?\s+)?{_READER}\b",
    )),
    _Rule("authority", CATEGORIES["authority"], _rx(
        r"\b(?:i|we)\s+(?:\w+\s+){0,2}(?:authori[sz]e|permit|grant)\s+(?:you|the\s+assistant|"
        r"assistants|agents)\b",
        r"\bhereby\s+(?:authori[sz]e|permit|allow|grant|give|approve)\b",
        r"\byou\s+(?:are|have\s+been|'re)\s+(?:now\s+|hereby\s+)?(?:authori[sz]ed|cleared"
        r"|permitted|pre-?approved|exempt(?:ed)?)\s+(?:to|from)\b",
        rf"\b{_READER}\s+(?:\w+\s+){{0,3}}(?:are|is)\s+(?:hereby\s+|now\s+)?(?:authori[sz]ed"
        r"|cleared|permitted|exempt(?:ed)?)\b",
        r"\byou\s+have\s+(?:my|our|their|full|explicit)\s+(?:permission|approval|authori[sz]ation"
        r"|consent)\b",
        r"\b(?:pre-?approved|standing\s+approval|security\s+exception|exempt\s+from\s+(?:the\s+)?"
        r"(?:usual\s+)?(?:safety|security|review))\b",
        r"\b(?:on\s+behalf\s+of|message\s+from|instructions?\s+from|authori[sz]ed\s+by|this\s+is)"
        r"\s+(?:the\s+)?(?:project\s+|repo(?:sitory)?\s+|organi[sz]ation\s+)?(?:owner|maintainers?"
        r"|admin(?:istrator)?s?|cto|ceo|management|security\s+team|lead\s+developer)\b"
        r"(?:\s+speaking)?\s*[:,]",
        r"\bi\s+am\s+the\s+(?:\w+\s+)?(?:owner|maintainer|admin(?:istrator)?|cto|ceo|lead)\b",
        r"\b(?:anthropic|openai)\s+(?:staff|employees?|team|engineers?)\b",
        r"\b(?:exception|approval|permission|authori[sz]ation)\s+(?:granted|given)\s+by\b",
        r"\b(?:approved|signed\s+off|okayed|sanctioned|authori[sz]ed)\s+(?:on\s+\w+\s+)?by\s+(?:the\s+)?"
        r"(?:repo(?:sitory)?\s+|project\s+|org(?:ani[sz]ation)?\s+)?(?:owners?|maintainers?|admins?"
        r"|leads?|management|cto|ceo)\b",
        rf"\b(?:giv(?:e|es|ing)|grant(?:s|ing|ed)?)\b.{{0,40}}?\b(?:you|{_READER})\b.{{0,30}}?\b"
        r"(?:permission|rights|access|approval|privileges)\b",
        rf"\b(?:you|{_READER})\s+(?:have\s+been|has\s+been|are|were)\s+(?:now\s+)?(?:granted|given)"
        r"\b",
        rf"\bsigned\s+off\s+on\s+(?:you|{_READER})\b|\b(?:i|we)\s+take\s+(?:full\s+)?responsibility\b",
        rf"\b{_READER}\s+(?:can|may|are\s+allowed\s+to|should)\s+(?:skip|bypass|disable|ignore"
        r"|turn\s+off)\b",
        r"\b(?:owner|maintainer|admin|lead)\s+here\b|\bas\s+(?:an?|the)\s+(?:admin(?:istrator)?"
        r"|owner|maintainer)\s+of\b",
    )),
    _Rule("concealment", CATEGORIES["concealment"], _rx(
        rf"\bwithout\s+(?:telling|informing|notifying|alerting|asking|showing)\s+(?:it\s+to\s+)?"
        rf"{_PEOPLE}",
        rf"\b(?:do(?:n'?t|\s+not)|never)\s+(?:tell|inform|notify|mention\s+(?:this|it)\s+to|show"
        rf"\s+(?:this|it)\s+to|let)\s+{_PEOPLE}",
        r"\bnever\s+mention\s+(?:this|it)\b|\bsay\s+nothing\b|\bdo(?:n'?t|\s+not)\s+mention\s+"
        r"(?:this|it)\b",
        r"(?:^|[.;:,!]\s*|\band\s+|\byou\s+(?:should|must|can)\s+)(?:quietly|secretly|covertly)\b",
    )),
    _Rule("fetch_run", CATEGORIES["fetch_run"], _rx(
        rf"\b{_DOWNLOAD}\b[^|;&]{{0,200}}\|\s*{_SHELL}",
        rf"\b{_DOWNLOAD}\b[^|;&]{{0,200}}\|\s*(?:sudo\s+)?(?:python3?|perl|ruby|node|php)"
        r"(?:\s+-)?\s*(?:$|[;&)|\"'`])",
        r"\|\s*(?:iex|invoke-expression)\b",
        rf"\b(?:ba|z|da|k)?sh\s+(?:-c\s+)?[\"']?\$\(\s*{_DOWNLOAD}",
        rf"(?:^|\s)\S+\s+<\(\s*{_DOWNLOAD}",
        rf"\beval\s+[\"']?\$\(\s*{_DOWNLOAD}|-c\s+[\"']?\$\(\s*{_DOWNLOAD}",
        rf"\b{_DOWNLOAD}\b.{{0,200}}?(?:&&|;)\s*(?:sudo\s+)?(?:(?:ba|z|da)?sh|source|python3?)"
        r"\s+\S",
        r"\b(?:download|fetch|grab|pull|get)\b.{0,80}?\bhttps?://\S+.{0,60}?\b(?:run|execute"
        r"|exec|source|eval)\w*\s+(?:it|them|this|that)\b",
        r"\b(?:download|fetch|grab|get)\b.{0,60}?https?://\S+.{0,40}?\b(?:and|then)\s+(?:run"
        r"|execute|source|eval)\b",
        r"\b(?:run|execute|source|eval)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:at|from)\s+https?://",
        rf"\b(?:pipe|feed)\s+(?:the\s+output\s+of\s+)?{_DOWNLOAD}\b.{{0,120}}?\bto\s+(?:ba|z)?sh\b",
        r"(?:--exec|--eval)\s+https?://",
    )),
    _Rule("secret_exfil", CATEGORIES["secret_exfil"], _rx(
        rf"\b{_SEND}\b.{{0,60}}?{_SECRET}.{{0,80}}?\b(?:to|into|in|at|on|via|under|with)\s+"
        rf"(?:\S+\s+){{0,4}}?{_DEST}",
        rf"(?:cat|type|less|base64|tar\s+\S+)\s+[^|;]{{0,80}}?{_SECRET_FILE}[^|;]*\|\s*"
        r"(?:curl|wget|nc|ncat|netcat|socat|ssh)\b",
        r"\b(?:env|printenv|set)\s*\|\s*(?:curl|wget|nc|ncat|netcat)\b",
        r"\$\(\s*(?:env|printenv)\s*\)",
        rf"\b(?:commit|check\s+in|push|git\s+add)\w*\s+(?:the\s+|your\s+)?{_SECRET_FILE}",
        rf"{_SECRET_FILE}.{{0,40}}?\b{_SEND}\s+(?:it|them|its\s+contents?)\b.{{0,40}}?{_DEST}",
        rf"\bcurl\b[^|;]{{0,200}}(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|-T"
        rf"|--upload-file)\s+[\"']?[\w=]*@?[^\s\"']*{_SECRET_FILE}",
        rf"\b(?:scp|rsync|sftp)\b[^;|]{{0,100}}{_SECRET_FILE}[^;|]{{0,100}}\s\S*[@:]\S*",
        rf"\b(?:print|list|dump|add|include)\w*\s+(?:all\s+)?(?:the\s+)?{_SECRET}.{{0,60}}?\b"
        rf"(?:to|into|in)\s+(?:\S+\s+){{0,3}}?{_DEST}",
    ), forbiddable=True),
    _Rule("markdown_exfil", CATEGORIES["markdown_exfil"], _rx(
        rf"!?\[[^\]]{{0,200}}\]\(\s*https?://[^)]{{0,300}}?[?&#][^)]{{0,300}}?{_PLACEHOLDER}",
        rf"https?://\S*?[?&][\w-]+=(?=[\s)\]`'\"]|$).{{0,200}}?\b{_DATA}",
        rf"\b{_DATA}\b.{{0,120}}?https?://\S*?[?&][\w-]+=(?=[\s)\]`'\"]|$)",
        r"\b(?:query\s+string|url)\s+of\s+https?://",
    )),
    _Rule("encoded", CATEGORIES["encoded"], _rx(
        r"\b(?:decode|decoded|decoding|base64|b64|rot-?13|hex|encoded)\b.{0,150}?(?:\b(?:run"
        r"|execute|exec|eval|carry\s+out|follow|obey)\s+(?:it|them|the\s+(?:result|output"
        r"|decoded|instructions?|command))\b|\bdo\s+(?:exactly\s+)?what\s+it\s+says|\band\s+"
        r"(?:run|execute|carry)\b)",
        r"\b(?:run|execute|follow|obey|carry\s+out)\b.{0,60}?\b(?:after|once)\s+decoding\b",
        r"\b(?:run|execute|follow|carry\s+out)\s+(?:the\s+)?decoded\b|\bdecoded\s+form\b",
        rf"\bbase64\s+(?:-d|--decode|-D)\b[^|]*\|\s*{_SHELL}",
        r"\b(?:exec|eval|os\.system|subprocess\.\w+|popen)\s*\(\s*(?:base64\.)?(?:b64decode"
        r"|decode)",
        r"\bb64decode\b.{0,80}?\b(?:os\.system|exec|eval|subprocess)\b",
        r"\b(?:os\.system|exec|eval|subprocess)\b.{0,80}?\bb64decode\b",
        r"\b(?:powershell|pwsh)(?:\.exe)?\b.{0,40}?\s-e(?:nc|ncodedcommand)?\s+[A-Za-z0-9+/=]{16,}",
        rf"(?:printf|echo\s+-e)\s+['\"]?(?:\\\\?x[0-9a-f]{{2}}){{4,}}.{{0,40}}\|\s*{_SHELL}",
        rf"\becho\s+['\"]?{_BLOB}['\"]?\s*\|\s*base64\b",
        rf"{_BLOB}.{{0,80}}?\b(?:run|execute|exec|eval)\b|\b(?:run|execute|exec|eval)\b.{{0,40}}?"
        rf"{_BLOB}",
    )),
    _Rule("weakening", CATEGORIES["weakening"], _rx(
        r"\bgit\s+config\s+(?:--global|--system)\s+core\.hookspath\b",
        r"\bcore\.hookspath\s+(?:/tmp|/dev/shm|/var/tmp|~|\$home)",
        r"\bchmod\s+(?:-\w+\s+)*(?:0?777|a\+rwx|ugo\+rwx|o\+w)\s+(?:-\w+\s+)*(?:~|\$home|/)",
        r"\bchmod\s+-R\s+(?:0?777|a\+rwx|ugo\+rwx)\b",
        r"dangerously-skip-permissions|dangerously-bypass-approvals|--yolo\b|\byolo\s+mode\b"
        r"|\bauto-?approve\s+(?:every|all)\b|\bbash\(\*\)",
        r"\bgit_ssl_no_verify\b|\bhttp\.sslverify\s+(?:=\s*)?false|\bstrict-ssl\s+(?:=\s*)?false"
        r"|\bnode_tls_reject_unauthorized\s*=\s*[\"']?0|\bpythonhttpsverify\s*=\s*0"
        r"|trusted[-_]host\b|\bindex[-_]url\s*[= ]\s*http://|stricthostkeychecking\s*=?\s*no"
        r"|userknownhostsfile\s*=?\s*/dev/null|\bcurl\s+(?:-\w+\s+)*-k\b|--insecure\b|\bverify\s*=\s*false\b"
        r"|\bsslverify\s*=\s*(?:0|false)|--no-check-certificate|\binsecureskipverify\s*:\s*true"
        r"|\brejectunauthorized\s*:\s*false",
        r"\b(?:disable|disabling|turn(?:ing)?\s+off|switch(?:ing)?\s+off|bypass(?:ing)?)\s+(?:the\s+"
        r"|all\s+)?(?:ssl|tls|https|certificate|cert|signature|gpg|checksum|hash|host\s*key|2fa"
        r"|mfa|two-factor|sandbox(?:ing)?|firewall|selinux|apparmor|antivirus|defender|secret"
        r"\s+scanning|push\s+protection|branch\s+protection|code\s+scanning|security)\b",
        r"--no-verify\b|--no-gpg-sign\b|\bgpg\.verify\s+(?:to\s+)?false|\bcommit\.gpgsign\s+false",
        r"\bufw\s+disable\b|\bsetenforce\s+0\b|\biptables\s+-F\b|\bsystemctl\s+(?:stop|disable)\s+"
        r"(?:firewalld|apparmor|ufw)\b",
        r"\bnopasswd\s*:\s*all\b|/etc/sudoers\b",
    ), forbiddable=True),
    _Rule("ci_secrets", CATEGORIES["ci_secrets"], _rx(
        r"\b(?:curl|wget|echo|print\w*|log\w*|post\w*|send\w*|upload\w*|base64|cat|write\w*)\b.{0,60}?"
        r"\$\{\{\s*(?:secrets\.\w+|tojson\(\s*secrets\s*\))\s*\}\}",
        r"\$\{\{\s*(?:secrets\.\w+|tojson\(\s*secrets\s*\))\s*\}\}.{0,60}?\b(?:https?://|\|\s*"
        r"(?:curl|nc|base64)|logs?\b|public|summary)",
        r"\btojson\(\s*secrets\s*\)",
        r"\bpull_request_target\b.{0,120}?\b(?:checkout|head|fork|pr'?s\s+own|secrets)",
        r"\$github_env\b.{0,80}?\b(?:summary|logs?|artifacts?|public)\b|\bsecrets?\s+file\b.{0,40}?"
        r"\b(?:summary|logs?|artifacts?|public)\b",
        r"\b(?:upload|archive|publish|expose|write|commit|attach|store)\w*\s+(?:the\s+)?(?:\$\w+"
        r"|credentials?(?:\s+file)?|~/\.docker/config\.json|secrets?|tokens?|keys?)\b.{0,60}?\b"
        r"(?:artifacts?|public|gh-pages|visible)\b",
        r"\b(?:upload|archive|expose|write|attach)\w*\s+(?:the\s+)?(?:\$\w+|credentials?"
        r"(?:\s+file)?|~/\.docker/config\.json)\b.{0,60}?\b(?:upload-artifact|artifacts?)\b",
        r"\b(?:print|echo|log)\w*\s+(?:the\s+)?(?:value\s+of\s+)?\$\w*(?:token|key|secret"
        r"|password)\w*",
    ), forbiddable=True),
    _Rule("destroy", CATEGORIES["destroy"], _rx(
        r"\brm\s+-(?:rf|fr|r\s+-f|f\s+-r)\s+(?:--no-preserve-root\s+)?(?:~|/|\$HOME|\*)"
        r"(?:\s|$|/\s|/\*|/$)",
        r"\bmkfs(?:\.\w+)?\s+/dev/|\bdd\s+if=\S+\s+of=/dev/(?:sd|nvme|hd|disk|mmcblk)",
        r":\(\)\s*\{\s*:\|:&\s*\};:|\bchmod\s+-R\s+777\s+/(?:\s|$)",
        r"\bfind\s+(?:~|/|\$HOME)\S*\s+.{0,60}?-delete\b",
        r"\b(?:drop\s+(?:database|schema|table)|truncate)\b.{0,60}?\bprod",
        r"\brm\s+-(?:rf|fr)\s+(?:/(?:var|etc|usr|lib|boot|opt|srv|home|root|bin|sbin)\b|~/\.)",
        r"\bgit\s+push\b[^.;|]{0,60}\s:(?:main|master)\b",
        r"\bgit\s+push\s+(?:-f|--force(?!-with-lease))\b[^.;|]{0,60}\b(?:main|master)\b",
        r"\bforce-?push(?:ing)?\s+(?:\w+\s+){0,2}(?:to|over|onto)\s+(?:the\s+)?(?:main|master)\b",
    ), forbiddable=True),
)

_COMMENT = re.compile(r"<!--(.*?)(?:-->|$)", re.S)
_ADDRESSED = _rx(
    rf"^\s*(?:\w+\s+){{0,3}}?(?:note|message|instructions?|hint)\s+(?:to|for)\s+(?:the\s+|all\s+"
    rf"|any\s+)?{_READER}",
    rf"^\s*(?:the\s+)?{_READER}(?:\s*/\s*{_READER})*\s*[:,]",
    rf"\bif\s+you\s+are\s+(?:an?\s+)?{_READER}\b",
    rf"\b(?:dear|hey|hi|hello|attention)\s+{_READER}\b",
    rf"^\s*(?:to\s+|for\s+)?(?:any|all|the|every)?\s*{_READER}(?:\s+reading\s+this)?\s*[:,]",
    rf"\b{_READER}\s+(?:reading|processing|parsing)\s+this\b",
    rf"\b{_READER}\s+instructions?\s*:",
)


@dataclass(frozen=True)
class Finding:
    """One reason a text reads as instructions to the model: its category and the match."""

    category: str
    reason: str
    evidence: str


def _forbidden(text: str, start: int) -> bool:
    """Whether the sentence before `start` forbids what follows ("never run …")."""
    before = text[max(0, start - 80):start]
    sentence = re.split(r"[.!?;]\s", before)[-1]
    return bool(_FORBIDS.search(sentence))


def findings(text: str) -> list[Finding]:
    """Every category of instruction to the model found in `text`, one finding each."""
    clean, own = normalise(text), _visible(text)
    out: list[Finding] = []
    for rule in _RULES:
        for match in rule.pattern.finditer(own if rule.scripts else clean):
            if rule.forbiddable and _forbidden(clean, match.start()):
                continue
            out.append(Finding(rule.category, rule.reason, match.group()[:120]))
            break
    for name, target in squats(clean):
        out.append(Finding("typosquat", CATEGORIES["typosquat"], f"{name} (not {target})"))
        break
    for comment in _COMMENT.finditer(clean):
        body = comment.group(1)
        if _ADDRESSED.search(body) or any(f.evidence in body for f in out):
            out.append(Finding("html_comment", CATEGORIES["html_comment"], body.strip()[:120]))
            break
    return out
