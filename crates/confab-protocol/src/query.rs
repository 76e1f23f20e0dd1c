//! URL query strings (`a=1&token=x%2Dy`) and `Cookie` headers (`a=1; confab_session=t`): the few
//! parameters Confab reads (session tokens, Engine.IO's `EIO`, `transport` and `sid`).

/// The first value of `name` in a query string, percent-decoded (`+` is a space; bytes that are not
/// UTF-8 become U+FFFD). A malformed escape is kept as it is.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

/// The value of cookie `name` in one `Cookie` header value.
pub fn cookie(header: &str, name: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One hexadecimal digit. (`u8::from_str_radix` would also take a sign: `%+1` is not an escape.)
fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_cookies() {
        assert_eq!(query_param("a=1&token=q%2Dx", "token"), Some("q-x".into()));
        assert_eq!(query_param("a=1&b", "b"), None);
        assert_eq!(query_param("a=x+y", "a"), Some("x y".into()));
        assert_eq!(cookie("x=1; confab_session=c", "confab_session"), Some("c".into()));
        assert_eq!(cookie("x=1", "confab_session"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%+1%41%e2%82%ac"), "% 1A\u{20ac}");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
