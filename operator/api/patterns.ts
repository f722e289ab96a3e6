// The value formats of the API: each regular expression is written once with the hint
// that error messages add ("must match ^0x[0-9a-fA-F]{40}$ (an Ethereum address)").
// They must mean the same in Go RE2 (the API server) and JavaScript (ajv): plain
// classes, anchors and bounded repeats only, no lookaround or backreferences.

export interface Pattern {
  readonly pattern: string;
  readonly hint: string;
  readonly maxLength: number;
}

function p(pattern: string, hint: string, maxLength: number): Pattern {
  return { pattern, hint, maxLength };
}

const dnsLabel = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';

export const patterns = {
  address: p('^0x[0-9a-fA-F]{40}$', 'an Ethereum address', 42),
  bytes32: p('^0x[0-9a-fA-F]{64}$', 'a 32-byte hex value', 66),
  txHash: p('^0x[0-9a-fA-F]{64}$', 'a transaction hash', 66),
  contentHash: p('^(sha256:[0-9a-f]{64}|0x[0-9a-fA-F]{64})$', 'sha256:<64 hex> or 0x<64 hex>', 71),
  /** NVDAx amounts: up to 18 integer and 18 fractional digits, no sign, no exponent. */
  price: p('^(0|[1-9][0-9]{0,17})(\\.[0-9]{1,18})?$', 'a decimal NVDAx amount such as "1.25", up to 18 decimals', 37),
  wei: p('^(0|[1-9][0-9]{0,77})$', 'an integer amount of wei', 78),
  /** A uint256 in decimal (the range is checked where it is used: 78 digits admit a little more). */
  uint256: p('^(0|[1-9][0-9]{0,77})$', 'a decimal integer below 2^256', 78),
  /** A 65-byte ECDSA signature (r, s, v). */
  signature: p('^0x[0-9a-fA-F]{130}$', 'a 65-byte signature, 0x + 130 hex', 132),
  /** Go's time.ParseDuration units, without sign; admits "0s", which positiveDuration() (sla.ts) refuses. */
  duration: p('^([0-9]{1,9}(\\.[0-9]{1,9})?(ns|us|ms|s|m|h)){1,6}$', 'a duration such as 30s, 5m or 1h30m', 64),
  gpuProduct: p(
    '^NVIDIA-[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$',
    'a GPU Feature Discovery product name such as NVIDIA-H100-80GB-HBM3',
    63,
  ),
  /** resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource). */
  quantity: p(
    '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    'a Kubernetes quantity such as 4, 500m or 80Gi',
    64,
  ),
  /** quantity without the leading "-": CPU, memory and GPU memory cannot be negative. */
  nonNegativeQuantity: p(
    '^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))' +
      '(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    'a non-negative Kubernetes quantity such as 4, 500m or 80Gi',
    64,
  ),
  region: p(`^${dnsLabel}$`, 'a lowercase region name such as eu-west', 63),
  country: p('^[A-Z]{2}$', 'an ISO 3166-1 alpha-2 code such as DE, or EU', 2),
  dnsLabel: p(`^${dnsLabel}$`, 'a lowercase RFC 1123 label', 63),
  dnsSubdomain: p(`^${dnsLabel}(\\.${dnsLabel})*$`, 'a lowercase RFC 1123 subdomain', 253),
  secretKey: p('^[-._a-zA-Z0-9]+$', 'a Secret data key', 253),
  envName: p('^[-._a-zA-Z][-._a-zA-Z0-9]*$', 'an environment variable name', 253),
  labelValue: p('^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$', 'a label value', 63),
  image: p('^[^\\s]+$', 'a container image reference without spaces', 512),
  uri: p('^[a-z][a-z0-9+.-]*://[^\\s]+$', 'a URI such as s3://bucket/path or hf://org/model', 2048),
  modelId: p('^[A-Za-z0-9][-A-Za-z0-9_.:/@]*$', 'a model id such as meta-llama/Llama-3.1-8B-Instruct', 253),
  /** A fraction in [0, 1] with up to 6 decimals, e.g. "0.973". */
  fraction: p('^(0(\\.[0-9]{1,6})?|1(\\.0{1,6})?)$', 'a decimal between 0 and 1 such as "0.97"', 8),
  hexDigest: p('^([0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$', 'a lowercase hex SHA-256/384/512 digest', 128),
  percent: p('^(100|[1-9]?[0-9])%$', 'a percentage such as "42%"', 4),
  conditionType: p(
    '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    'a condition type such as Ready',
    316,
  ),
  reason: p('^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', 'a CamelCase reason', 1024),
} as const satisfies Record<string, Pattern>;
