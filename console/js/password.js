// Strong random passwords (crypto.getRandomValues, no modulo bias),
// 24 characters from an alphabet without look-alikes: about 140 bits.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!';

export function generatePassword(length = 24) {
	const n = ALPHABET.length;
	const limit = 256 - (256 % n);
	const out = [];
	const buf = new Uint8Array(64);
	while (out.length < length) {
		crypto.getRandomValues(buf);
		for (const b of buf) {
			if (b < limit && out.length < length)
				out.push(ALPHABET[b % n]);
		}
	}
	return out.join('');
}
