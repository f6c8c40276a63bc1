//! Unit tests of `value.rs`: timestamps, each protocol's form of binary data and dates, typed reads.

use super::*;

#[test]
fn timestamps_keep_every_form_and_print_as_iso_8601() {
    for (seconds, nanos, iso) in [
        (0, 0, "1970-01-01T00:00:00Z"),
        (1_017_656_415, 0, "2002-04-01T10:20:15Z"),
        (1_017_656_415, 500_000_000, "2002-04-01T10:20:15.5Z"),
        (17_179_869_184, 1, "2514-05-30T01:53:04.000000001Z"),
        (-1, 999_000_000, "1969-12-31T23:59:59.999Z"),
        (MIN_SECONDS, 0, "0001-01-01T00:00:00Z"),
    ] {
        let t = Timestamp::new(seconds, nanos).unwrap();
        assert_eq!(t.to_string(), iso);
        assert_eq!(Timestamp::from_ext(&t.to_ext()), Ok(t), "{iso}");
        assert_eq!(Timestamp::try_from(SystemTime::from(t)), Ok(t), "{iso}");
    }
    assert_eq!(Timestamp::new(0, 0).unwrap().to_ext().len(), 4);
    assert_eq!(Timestamp::new(0, 1).unwrap().to_ext().len(), 8);
    assert_eq!(Timestamp::new(-1, 0).unwrap().to_ext().len(), 12);
    assert!(Timestamp::new(MAX_SECONDS + 1, 0).is_none());
    assert!(Timestamp::from_ext(&[0; 3]).is_err());
}

#[test]
fn json_writes_binary_as_base64_and_timestamps_as_iso_text() {
    let value = HubValue::Array(vec![
        HubValue::Binary(vec![1, 2, 3]),
        HubValue::Timestamp(Timestamp::new(1_017_656_415, 0).unwrap()),
        HubValue::Map(vec![("a".into(), HubValue::UInt(u64::MAX))]),
    ]);
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        r#"["AQID","2002-04-01T10:20:15Z",{"a":18446744073709551615}]"#
    );
    let back: HubValue = serde_json::from_str(r#"[1,-2,1.5,"x",null,true,{"k":[]}]"#).unwrap();
    assert_eq!(
        back,
        HubValue::Array(vec![
            HubValue::Int(1),
            HubValue::Int(-2),
            HubValue::Float(1.5),
            HubValue::String("x".into()),
            HubValue::Null,
            HubValue::Bool(true),
            HubValue::Map(vec![("k".into(), HubValue::Array(vec![]))]),
        ])
    );
}

#[test]
fn messagepack_keeps_binary_and_timestamps_both_ways() {
    let value = HubValue::Array(vec![
        HubValue::Binary(vec![0xff, 0]),
        HubValue::Timestamp(Timestamp::new(-5, 7).unwrap()),
        HubValue::Map(vec![("n".into(), HubValue::Int(i64::MIN))]),
    ]);
    let bytes = rmp_serde::to_vec_named(&value).unwrap();
    let read: HubValue = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(read, value);
}

#[test]
fn typed_reads_take_native_values_and_refuse_binary_as_text() {
    let args = HubValue::Array(vec![
        HubValue::String("hi".into()),
        HubValue::Int(3),
        HubValue::Binary(vec![9]),
    ]);
    let (text, n, any): (String, u8, HubValue) = from_value(args).unwrap();
    assert_eq!(
        (text.as_str(), n, any),
        ("hi", 3, HubValue::Binary(vec![9]))
    );
    assert!(from_value::<(String,)>(HubValue::Array(vec![HubValue::Binary(vec![104])])).is_err());
    let unit: () = from_value(HubValue::Null).unwrap();
    assert_eq!(unit, ());
    #[derive(Deserialize, Debug, PartialEq)]
    struct Custom {
        #[serde(rename = "Name")]
        name: String,
        tags: Option<Vec<u32>>,
    }
    let custom: Custom = from_value(HubValue::Map(vec![
        ("Name".into(), HubValue::String("x".into())),
        ("tags".into(), HubValue::Null),
    ]))
    .unwrap();
    assert_eq!(
        custom,
        Custom {
            name: "x".into(),
            tags: None
        }
    );
}
