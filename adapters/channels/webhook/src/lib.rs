//! Generic webhook channel: signed JSON in, signed JSON out.
