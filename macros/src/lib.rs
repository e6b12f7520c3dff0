//! `#[quartet::main]` and `#[quartet::test]`: the attribute macros of the quartet runtime,
//! re-exported by the `quartet` crate (feature `macros`, on by default).
//!
//! They only wrap an `async fn` in the call a user would write by hand (`quartet::run(..)`, or
//! `quartet::testing::run_test(..)`), so everything they do is also available without them; the
//! generated code names only `::quartet` paths.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Runs an `async fn main` on a quartet runtime.
///
/// The function's return value is `main`'s. If the runtime cannot start (io_uring unavailable,
/// say), the error, which names the cause and the remedy, is printed and the process exits with
/// status 1.
///
/// # Examples
/// ```no_run
/// #[quartet::main]
/// async fn main() -> Result<(), quartet::Cancelled> {
///     quartet::sleep(std::time::Duration::from_millis(10)).await?;
///     println!("done");
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_main(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Turns an `async fn` into a test that runs on a quartet runtime.
///
/// Options (any combination, comma-separated):
/// - `mock_clock`: run on the virtual clock with autojump, so sleeps and timeouts take no time;
/// - `explore = N`: run the body under `N` seeds of schedule exploration (implies the mock clock);
///   a failure prints the seed, and `QUARTET_SEED=<seed>` replays exactly that schedule;
/// - `seed = S`: run the body with exactly seed `S` (implies the mock clock).
///
/// The body may return `()` or a `Result` (an `Err` fails the test).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// #[quartet::test(mock_clock)]
/// async fn an_hour_passes_in_no_time() {
///     let t0 = quartet::now();
///     quartet::sleep(Duration::from_secs(3600)).await.unwrap();
///     assert_eq!(quartet::now() - t0, Duration::from_secs(3600));
/// }
///
/// #[quartet::test(explore = 50)]
/// async fn children_may_run_in_any_order() -> Result<(), quartet::BoxError> {
///     quartet::nursery(async |n| {
///         n.spawn(async { quartet::checkpoint().await })?;
///         n.spawn(async { quartet::checkpoint().await })?;
///         Ok::<_, quartet::BoxError>(())
///     })
///     .await?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_test(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

fn async_fn(item: TokenStream2, what: &str) -> syn::Result<ItemFn> {
    let f: ItemFn = syn::parse2(item)?;
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(f.sig.fn_token, format!("{what} needs an `async fn`")));
    }
    if !f.sig.inputs.is_empty() || !f.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&f.sig.inputs, format!("{what} takes no arguments or generics")));
    }
    Ok(f)
}

fn expand_main(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(attr, "#[quartet::main] takes no options"));
    }
    let f = async_fn(item, "#[quartet::main]")?;
    let (attrs, vis, ident, output, block) = (&f.attrs, &f.vis, &f.sig.ident, &f.sig.output, &f.block);
    Ok(quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            match ::quartet::run(async move #block) {
                ::core::result::Result::Ok(out) => out,
                ::core::result::Result::Err(e) => {
                    ::std::eprintln!("quartet: the runtime could not start: {e}");
                    ::std::process::exit(1)
                }
            }
        }
    })
}

/// The parsed options of `#[quartet::test(..)]`.
#[derive(Default)]
struct Options {
    mock_clock: bool,
    explore: Option<u64>,
    seed: Option<u64>,
}

fn int(value: &Expr, name: &str) -> syn::Result<u64> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<u64>(),
        other => Err(syn::Error::new_spanned(other, format!("`{name}` takes an integer literal"))),
    }
}

fn parse_options(attr: TokenStream2) -> syn::Result<Options> {
    let mut o = Options::default();
    for meta in Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)? {
        match &meta {
            Meta::Path(p) if p.is_ident("mock_clock") => o.mock_clock = true,
            Meta::NameValue(nv) if nv.path.is_ident("explore") => {
                let n = int(&nv.value, "explore")?;
                if n == 0 {
                    return Err(syn::Error::new_spanned(&nv.value, "`explore` needs at least 1 run"));
                }
                o.explore = Some(n);
            }
            Meta::NameValue(nv) if nv.path.is_ident("seed") => o.seed = Some(int(&nv.value, "seed")?),
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "unknown option: #[quartet::test] takes `mock_clock`, `explore = N`, `seed = S`",
                ));
            }
        }
    }
    Ok(o)
}

fn expand_test(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let o = parse_options(attr)?;
    let f = async_fn(item, "#[quartet::test]")?;
    let (attrs, ident, output, block) = (&f.attrs, &f.sig.ident, &f.sig.output, &f.block);
    let mock_clock = o.mock_clock || o.explore.is_some() || o.seed.is_some();
    let some = |v: Option<u64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (explore, seed) = (some(o.explore), some(o.seed));
    let body = syn::Ident::new("__quartet_test_body", Span::mixed_site());
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        fn #ident() {
            async fn #body() #output #block
            ::quartet::testing::run_test(
                ::quartet::testing::TestOptions { mock_clock: #mock_clock, explore: #explore, seed: #seed },
                #body,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{expand_main, expand_test, parse_options};
    use quote::quote;

    #[::core::prelude::v1::test]
    fn options_parse_and_bad_ones_are_errors() {
        let o = parse_options(quote!(mock_clock, explore = 300, seed = 0x2a)).unwrap();
        assert!(o.mock_clock);
        assert_eq!((o.explore, o.seed), (Some(300), Some(42)));
        assert!(parse_options(quote!(explore = 0)).is_err());
        assert!(parse_options(quote!(explore = "many")).is_err());
        assert!(parse_options(quote!(fast)).is_err());
        assert!(
            expand_test(
                quote!(),
                quote!(
                    fn not_async() {}
                )
            )
            .is_err()
        );
        assert!(
            expand_main(
                quote!(mock_clock),
                quote!(
                    async fn main() {}
                )
            )
            .is_err()
        );
        assert!(
            expand_test(
                quote!(seed = 1),
                quote!(
                    async fn t() {}
                )
            )
            .unwrap()
            .to_string()
            .contains("run_test")
        );
    }
}
